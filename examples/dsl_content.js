// dsl_content.js -- a brand kit: an image, a markdown page, slides, a collection.
// Run: rhaictl run examples/dsl_content.js -c marketing
var logo = Image.create({ title: "Logo", url: "https://acme.example/logo.png", width: 512,
                          height: 512 });
var guide = Markdown.create({ title: "Brand guide", content: "# Acme\n\nUse the logo on white." });
var deck = Slides.create({ title: "Pitch", slides: [{ title: "Problem" }, { title: "Solution" }] });
var kit = Collection.create({ title: "Brand kit" });
Collection.add(kit.id, "image", logo.id);
Collection.add(kit.id, "markdown", guide.id);
Collection.add(kit.id, "slides", deck.id);
({ kit: Collection.get(kit.id).items })
