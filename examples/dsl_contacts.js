// dsl_contacts.js -- contacts and a group of them.
// Run: rhaictl run examples/dsl_contacts.js -c crm
var ann = Contact.create({ name: "Ann Smith", emails: ["ann@example.org"], organisation: "Acme" });
var ben = new_contact().name("Ben Jones").phones(["+31 20 123 4567"]).save();
var board = Group.create({ name: "Board", members: [ann.id] });
Group.add_member(board.id, ben.id);
({ board: Group.get(board.id).members.map(function (id) { return Contact.get(id).name; }) })
