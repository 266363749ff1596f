// dsl_access.js -- record grants for the authorization layer.
// Run: rhaictl run examples/dsl_access.js -c acme
Grant.create({ caller: "bob", model: "company", op: "read", granted_by: ctx.caller_id });
Grant.create({ caller: "bob", model: "sale", op: "create", granted_by: ctx.caller_id });
Grant.list({ where: { caller: "bob" } }).map(function (g) { return g.op + " " + g.model; })
