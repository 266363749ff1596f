// dsl_circle.js -- a circle with roles; a circle with members keeps an admin.
// Run: rhaictl run examples/dsl_circle.js -c community
var core = Circle.create({ name: "Core team", members: [{ member: ctx.caller_id, role: "admin" }] });
Circle.add_member(core.id, "bob", "member");
Circle.add_member(core.id, "guest-1", "guest");
({ members: Circle.get(core.id).members })
