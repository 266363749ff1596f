// dsl_access.js -- an owner of the context grants and inspects access.
// Run: rhaictl run examples/dsl_access.js -c acme   (as the context's owner)
// Grants are checked on every DSL call of every other caller: an auditor
// may read companies and sales for an hour; a clerk may create sales.
var hour = 3600 * 1000;
acl.grant({ caller: "auditor", model: "company", ops: "read" });
acl.grant({ caller: "auditor", model: "sale", ops: ["read"], expires_at: Date.now() + hour });
var clerk = acl.grant({ caller: "clerk", model: "sale", ops: "create,read" });
acl.revoke({ caller: "clerk", model: "sale", ops: "read" });     // create stays

({
    owners: acl.owners(),
    grants: acl.list().map(function (g) {
        return g.caller + ": " + g.ops.join(",") + " " + g.model +
            (g.expires_at ? " (expires)" : "");
    }),
    clerk_grant: clerk,
    recent: audit.query({ limit: 3 }).map(function (r) { return r.op + " " + r.model; })
})
