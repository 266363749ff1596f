// dsl_business.js -- found a company, stock its products, record a sale,
// split its shares. Run: rhaictl run examples/dsl_business.js -c acme
var acme = new_company()
    .name("Acme Tools BV")
    .registration_number("NL-" + ctx.task_id.slice(0, 8))
    .email("info@acme.example")
    .business_type("single")
    .industry("hardware")
    .save();

var hammer = Product.create({ company: acme.id, name: "Hammer", price: 12.5, stock: 40,
                              category: "tools" });
var nails = Product.create({ company: acme.id, name: "Nails (100)", price: 3, stock: 500,
                             category: "supplies" });

Shareholder.create({ company: acme.id, holder: "alice", shares: 600, percentage: 60 });
Shareholder.create({ company: acme.id, holder: "bob", shares: 400, percentage: 40 });
var overAllocated = false;
try {
    Shareholder.create({ company: acme.id, holder: "mallory", percentage: 1 });
} catch (e) {
    overAllocated = true;          // percentages of a company never exceed 100
}

var sale = Sale.record({ company: acme.id, buyer: "carol",
                         items: [{ product: hammer.id, quantity: 2 },
                                 { product: nails.id, quantity: 3 }] });

({
    company: acme.name,
    products: Product.list({ where: { company: acme.id }, order: "name" }).map(function (p) {
        return p.name + ": " + p.stock + " left";
    }),
    sale_total: sale.total,
    mallory_refused: overAllocated
})
