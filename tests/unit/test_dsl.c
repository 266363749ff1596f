/* test_dsl.c -- the DSL through the engine: CRUD of every model, type
 * checks, domain invariants, atomic tasks and the ledger. Each test runs
 * scripts with eng_run in this process (dsl_install'd hooks) against a
 * fresh data dir, whose contexts are created owned by the callers used
 * here (authorization itself: test_dsl_authz.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "dsl/dsl.h"
#include "th_store.h"
#include "dsl/dsl_schema.h"

static char data_dir[256];
static char data_url[2048];    /* data_dir, or a fresh postgres database */
static int task_seq;

static int dir_setup(void **state)
{
    rhai_error err;

    (void)state;
    snprintf(data_dir, sizeof data_dir, "/tmp/rhai-test-dsl-XXXXXX");
    assert_non_null(mkdtemp(data_dir));
    assert_int_equal(th_store_url(data_dir, data_url, sizeof data_url), 0);
    assert_int_equal(dsl_install(data_url, &err), 0);
    {
        static const char *const ctxs[] = { "c1", "crud", "ledger", "ledger2", "bench",
                                            "acme" };
        store *s;
        store_db *db;
        assert_int_equal(store_new(data_url, &dsl_schema, &s, &err), 0);
        for (size_t i = 0; i < sizeof ctxs / sizeof ctxs[0]; i++)
            assert_int_equal(store_context_create(s, ctxs[i], "alice", &err), 0);
        /* the holder of a signature key signs in c1 */
        assert_int_equal(store_open(s, "c1", &db, &err), 0);
        assert_int_equal(store_owner_add(db, "bobkey", &err), 0);
        store_free(s);
    }
    return 0;
}

static int dir_teardown(void **state)
{
    char cmd[300];

    (void)state;
    dsl_uninstall();
    th_store_done(data_url);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", data_dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* Run 'script' with 'args' (NULL: none) as task 'id' (NULL: a fresh id)
 * in 'ctx' as 'caller' on worker 'worker'. */
static void run_full(const char *id, const char *ctx, const char *caller, const char *worker,
                     const char *script, const char *args, eng_output *out)
{
    char gen[32];
    eng_input in;

    if (id == NULL) {
        snprintf(gen, sizeof gen, "t-%d", ++task_seq);
        id = gen;
    }
    memset(&in, 0, sizeof in);
    in.task_id = id;
    in.script = script;
    in.script_len = strlen(script);
    in.args_json = args;
    in.context_id = ctx;
    in.caller_id = caller;
    in.worker_id = worker;
    assert_int_equal(eng_run(&in, NULL, &out[0]), 0);
    if (out->status != RHAI_STATUS_DONE)
        print_message("script failed: %s\n", out->error);
}

/* Run 'script' as task 'id' (NULL: a fresh id) in 'ctx' as 'caller'. */
static void run_as(const char *id, const char *ctx, const char *caller, const char *script,
                   eng_output *out)
{
    run_full(id, ctx, caller, "w", script, NULL, out);
}

/* Run and expect success with output 'want' (JSON text). */
static void expect(const char *script, const char *want)
{
    eng_output out;

    run_as(NULL, "c1", "alice", script, &out);
    assert_int_equal(out.status, RHAI_STATUS_DONE);
    if (strcmp(out.output, want) != 0)
        print_message("got %s\nwant %s\n", out.output, want);
    assert_string_equal(out.output, want);
    eng_output_clear(&out);
}

/* Run and expect an uncaught error whose message contains 'want'. */
static void expect_error(const char *script, const char *want)
{
    eng_output out;

    run_as(NULL, "c1", "alice", script, &out);
    assert_int_equal(out.status, RHAI_STATUS_ERROR);
    if (strstr(out.error, want) == NULL)
        print_message("error '%s' lacks '%s'\n", out.error, want);
    assert_non_null(strstr(out.error, want));
    eng_output_clear(&out);
}

/* ======================== CRUD of every model ======================== */

/* Sample values per model, in dependency order; a field to update. */
static const char crud_script[] =
    "var now = 1700000000000;\n"
    "var ids = {};\n"
    "var samples = [\n"
    " ['company', {name: 'Acme', email: 'a@acme.example'}, {industry: 'tools'}],\n"
    " ['product', function () { return {company: ids.company, name: 'W', price: 2.5, stock: 10}; },"
    "   {category: 'widgets'}],\n"
    " ['sale', function () { return {company: ids.company, buyer: 'bob',"
    "   items: [{product: ids.product, quantity: 2}]}; }, {status: 'pending'}],\n"
    " ['shareholder', function () { return {company: ids.company, holder: 'h',"
    "   percentage: 10}; }, {shares: 5}],\n"
    " ['account', {name: 'A', owner: 'alice'}, {description: 'main'}],\n"
    " ['asset', {name: 'Gold'}, {amount: 3}],\n"
    " ['listing', {title: 'L', price: 1}, {seller: 's'}],\n"
    " ['image', {title: 'I', url: 'u'}, {width: 5}],\n"
    " ['pdf', {title: 'P', url: 'u'}, {pages: 5}],\n"
    " ['markdown', {title: 'M'}, {content: '# x'}],\n"
    " ['book', {title: 'B', pages: [{title: 'c1'}]}, {title: 'B2'}],\n"
    " ['slides', {title: 'S', slides: [{title: 's1'}]}, {title: 'S2'}],\n"
    " ['collection', function () { return {title: 'C', items: [{kind: 'image', id: ids.image}]}; },"
    "   {description: 'd'}],\n"
    " ['flow', {name: 'F'}, {description: 'd'}],\n"
    " ['flow_step', function () { return {flow: ids.flow, order: 1}; }, {description: 'd'}],\n"
    " ['signature_requirement', function () { return {step: ids.flow_step,"
    "   public_key: 'k', message: 'm'}; }, {}],\n"
    " ['calendar', {name: 'Cal'}, {owner: 'o'}],\n"
    " ['event', {title: 'E', start: now, end: now + 1}, {location: 'here'}],\n"
    " ['contact', {name: 'Bob', emails: ['b@x']}, {organisation: 'o'}],\n"
    " ['group', function () { return {name: 'G', members: [ids.contact]}; }, {description: 'd'}],\n"
    " ['circle', {name: 'Ci', members: [{member: 'alice', role: 'admin'}]}, {description: 'd'}],\n"
    " ['grant', {caller: 'bob', model: 'company', op: 'read'}, {granted_by: 'alice'}]\n"
    "];\n"
    "function js(n) { return n.split('_').map(function (p) {"
    "  return p.charAt(0).toUpperCase() + p.slice(1); }).join(''); }\n"
    "var done = [], bids = {};\n"
    "samples.forEach(function (s) {\n"
    "  var M = this[js(s[0])], v = typeof s[1] === 'function' ? s[1]() : s[1];\n"
    "  var r = M.create(v);\n"
    "  if (!(r.id >= 1) || !(r.created_at > 0)) throw new Error(s[0] + ': bad row');\n"
    "  ids[s[0]] = r.id;\n"
    "  var g = M.get(r.id);\n"
    "  for (var k in v) if (JSON.stringify(g[k]) !== JSON.stringify(r[k])) throw new Error(s[0] + '.' + k);\n"
    "  var u = M.update(r.id, s[2]);\n"
    "  for (var k2 in s[2]) if (u[k2] !== s[2][k2]) throw new Error(s[0] + ' update ' + k2);\n"
    "  if (M.list({where: {id: r.id}}).length !== 1) throw new Error(s[0] + ' list');\n"
    "  if (M.count() < 1) throw new Error(s[0] + ' count');\n"
    "  var b = this['new_' + s[0]]();\n"
    "  for (var k3 in v) b[k3](v[k3]);\n"
    "  var br = b.save();\n"
    "  if (!(br.id > r.id)) throw new Error(s[0] + ' builder');\n"
    "  bids[s[0]] = br.id;\n"
    "  done.push(s[0]);\n"
    "}, this);\n"
    /* delete in reverse order of dependency (restrict references hold a
     * row while another references it: the builder's rows go too) */
    "samples.slice().reverse().forEach(function (s) {\n"
    "  var M = this[js(s[0])];\n"
    "  try { M['delete'](bids[s[0]]); } catch (e) { if (e.message.indexOf('not found') < 0) throw e; }\n"
    "  if (M['delete'](ids[s[0]]) !== true) throw new Error(s[0] + ' delete');\n"
    "  try { M.get(ids[s[0]]); throw new Error(s[0] + ' still there'); }\n"
    "  catch (e) { if (e.message.indexOf('not found') < 0) throw e; }\n"
    "}, this);\n"
    "done.join(',')";

static void test_every_model_supports_create_get_update_list_count_delete_and_builder(
    void **state)
{
    eng_output out;
    rh_buf want;

    (void)state;
    rh_buf_init(&want);
    rh_buf_append(&want, "\"", 1);
    run_as(NULL, "crud", "alice", crud_script, &out);
    assert_int_equal(out.status, RHAI_STATUS_DONE);
    /* every model of the schema was exercised */
    for (size_t i = 0; i < dsl_schema.nmodels; i++)
        assert_non_null(strstr(out.output, dsl_schema.models[i].name));
    {
        int commas = 0;
        for (const char *p = out.output; *p; p++)
            commas += *p == ',';
        assert_int_equal(commas + 1, (int)dsl_schema.nmodels);
    }
    eng_output_clear(&out);
    rh_buf_free(&want);
}

static void test_builder_sets_fields_and_a_second_save_updates(void **state)
{
    (void)state;
    expect("var b = new_company().name('Acme').email('a@b.c');\n"
           "var r1 = b.save(); b.industry('x'); var r2 = b.save();\n"
           "[r1.id === r2.id, r2.industry, r2.email, Company.count({where: {name: 'Acme'}})]",
           "[true,\"x\",\"a@b.c\",1]");
    expect("var c = Company.create({name: 'Z'});\n"
           "new_company().id(c.id).website('w').save().website + Company.get(c.id).name",
           "\"wZ\"");
}

static void test_list_filters_orders_pages_and_caps_its_limit(void **state)
{
    (void)state;
    expect("for (var i = 1; i <= 5; i++) Product.create({name: 'p' + i, price: i});\n"
           "var a = Product.list({where: {price: {gte: 2, lt: 5}}, order: '-price'});\n"
           "var b = Product.list({order: 'price', limit: 2, offset: 1});\n"
           "[a.map(function (p) { return p.name; }), b.map(function (p) { return p.price; }),"
           " Product.count({where: {name: 'p3'}})]",
           "[[\"p4\",\"p3\",\"p2\"],[2,3],1]");
    expect_error("Product.list({limit: 5000})", "RangeError: Product.list: limit");
    expect_error("Product.list({where: {nope: 1}})", "no comparable field 'nope'");
    expect_error("Product.list({order: 'nope'})", "no sortable field 'nope'");
    expect_error("Product.list({where: {price: {like: 1}}})", "needs one of eq");
    expect_error("Product.list({bogus: 1})", "unknown option 'bogus'");
}

/* ======================== bad input ======================== */

static void test_type_errors_name_the_field(void **state)
{
    (void)state;
    expect_error("Company.create({name: 5})", "TypeError: Company.create: field 'name' must "
                 "be a string");
    expect_error("Company.create({name: 'a', nope: 1})", "TypeError: Company.create: unknown "
                 "field 'nope'");
    expect_error("Company.create({email: 'x'})", "TypeError: Company.create: missing required "
                 "field 'name'");
    expect_error("Product.create({name: 'a', price: '5'})", "field 'price' must be a finite");
    expect_error("Product.create({name: 'a', price: -1})", "field 'price' must be at least 0");
    expect_error("Product.create({name: 'a', price: 1, stock: 1.5})",
                 "field 'stock' must be an integer");
    expect_error("Company.create({name: 'a', status: 'weird'})",
                 "field 'status' must be one of");
    expect_error("Sale.create({company: 1, buyer: 'b', items: [{product: 1}]})",
                 "missing required field 'items[0].quantity'");
    expect_error("Event.create({title: 't', start: 1, end: 2, attendees: [1]})",
                 "field 'attendees[0]' must be a string");
    expect_error("Company.update(1.5, {})", "TypeError: Company.update: id must be a positive");
    expect_error("Company.update(1, {name: null})", "required field 'name' cannot be null");
}

static void test_bad_input_writes_nothing_and_is_stored_verbatim(void **state)
{
    (void)state;
    /* nothing written by calls that failed */
    expect("try { Company.create({name: 'a', nope: 1}); } catch (e) {}\n"
           "try { Product.create({company: 999, name: 'x', price: 1}); } catch (e) {}\n"
           "[Company.count(), Product.count()]", "[0,0]");
    expect_error("Product.create({company: 999, name: 'x', price: 1})",
                 "company 999 does not exist");
    expect("Company.create({name: \"x'); DROP TABLE company; --\"}).name",
           "\"x'); DROP TABLE company; --\"");
    expect("Company.list()[0].name", "\"x'); DROP TABLE company; --\"");
    expect_error("var a = []; for (var i = 0; i < 101; i++) a.push('e');"
                 "Contact.create({name: 'n', emails: a})", "RangeError: Contact.create: "
                 "field 'emails' has 101 items, more than 100");
    expect_error("Company.get(424242)", "company 424242 not found");
    expect_error("Company['delete'](424242)", "company 424242 not found");
    expect_error("Company.create({name: 'a\\u0000b'})", "not valid text");
    /* a getter that calls the DSL while arguments are read */
    expect_error("Company.create({get name() { Company.count(); return 'n'; }})",
                 "DSL calls cannot nest");
}

static void test_malicious_context_ids_are_refused(void **state)
{
    eng_output out;
    struct stat sb;
    char path[400];

    (void)state;
    run_as(NULL, "..", "alice", "Company.count()", &out);
    assert_int_equal(out.status, RHAI_STATUS_ERROR);
    assert_non_null(strstr(out.error, "invalid context id"));
    eng_output_clear(&out);
    run_as(NULL, ".hidden", "alice", "Company.count()", &out);
    assert_int_equal(out.status, RHAI_STATUS_ERROR);
    eng_output_clear(&out);
    run_as(NULL, "a/../../b", "alice", "Company.count()", &out);
    assert_int_equal(out.status, RHAI_STATUS_ERROR);
    eng_output_clear(&out);
    snprintf(path, sizeof path, "%s/...db", data_dir);
    assert_int_not_equal(stat(path, &sb), 0);
}

/* ======================== invariants ======================== */

static void test_a_sale_computes_its_total_and_takes_stock_never_below_zero(void **state)
{
    (void)state;
    expect("var c = Company.create({name: 'Shop'});\n"
           "var p = Product.create({company: c.id, name: 'W', price: 2.5, stock: 3});\n"
           "var q = Product.create({company: c.id, name: 'V', price: 10, stock: 1});\n"
           "var s = Sale.record({company: c.id, buyer: 'bob', items: [{product: p.id, quantity: 2},"
           " {product: q.id, quantity: 1, unit_price: 8}]});\n"
           "[s.total, s.items[0].unit_price, Product.get(p.id).stock, Product.get(q.id).stock]",
           "[13,2.5,1,0]");
    expect_error("Sale.record({company: 1, buyer: 'b', items: [{product: 1, quantity: 2}]})",
                 "has 1 in stock, cannot sell 2");
    /* the failed sale took nothing, even from earlier items */
    expect("try { Sale.record({company: 1, buyer: 'b', items: [{product: 1, quantity: 1},"
           " {product: 2, quantity: 1}]}); } catch (e) {}\n"
           "[Product.get(1).stock, Sale.count()]", "[1,1]");
    expect_error("Sale.update(1, {items: [{product: 1, quantity: 1}]})",
                 "items of a recorded sale cannot change");
    expect_error("Product.update(1, {stock: -1})", "field 'stock' must be at least 0");
}

static void test_shareholder_percentages_never_exceed_100(void **state)
{
    (void)state;
    expect("var c = Company.create({name: 'Co'});\n"
           "Shareholder.create({company: c.id, holder: 'a', percentage: 60});\n"
           "var b = Shareholder.create({company: c.id, holder: 'b', percentage: 40});\n"
           "Shareholder.update(b.id, {percentage: 30}).percentage", "30");
    expect_error("Shareholder.create({company: 1, holder: 'c', percentage: 10.5})",
                 "would hold 100.5%, more than 100%");
    expect_error("Shareholder.update(2, {percentage: 41})", "more than 100%");
    /* another company is counted apart */
    expect("var d = Company.create({name: 'Other'});\n"
           "Shareholder.create({company: d.id, holder: 'a', percentage: 100}).percentage",
           "100");
}

static void test_transfers_are_atomic_and_never_overdraw(void **state)
{
    (void)state;
    expect("var a = Account.create({name: 'a', owner: 'x', balance: 100});\n"
           "var b = Account.create({name: 'b', owner: 'y'});\n"
           "var r = Account.transfer(a.id, b.id, 30);\n"
           "[r.from.balance, r.to.balance]", "[70,30]");
    expect_error("Account.transfer(1, 2, 71)", "insufficient funds in account 1");
    expect("try { Account.transfer(1, 2, 1000); } catch (e) {}\n"
           "[Account.get(1).balance, Account.get(2).balance]", "[70,30]");
    expect_error("Account.transfer(1, 1, 1)", "same account");
    expect_error("Account.transfer(1, 2, -5)", "amount must be positive");
    expect("var e = Account.create({name: 'e', owner: 'z', currency: 'EUR', balance: 5});\n"
           "try { Account.transfer(e.id, 1, 1); 'moved' } catch (x) { x.message }",
           "\"transfer: account 3 is in EUR, account 1 in USD\"");
    expect_error("Account.update(1, {balance: -1})", "field 'balance' must be at least 0");
}

static void test_bids_beat_the_highest_and_expired_listings_take_none(void **state)
{
    (void)state;
    expect("var l = Listing.create({title: 'Art', price: 100, type: 'auction',"
           " expires: Date.now() + 3600000});\n"
           "Listing.bid(l.id, 'a', 100); var r = Listing.bid(l.id, 'b', 120);\n"
           "[r.bids.length, r.bids[1].bidder, r.bids[1].amount]", "[2,\"b\",120]");
    expect_error("Listing.bid(1, 'c', 120)", "does not beat the highest bid");
    expect_error("Listing.bid(1, 'c', 50.5)", "does not beat the highest bid");
    expect_error("var l = Listing.create({title: 'Old', price: 1, type: 'auction',"
                 " expires: Date.now() - 1}); Listing.bid(l.id, 'a', 5)",
                 "expired: it takes no bids");
    expect_error("var l = Listing.create({title: 'F', price: 1}); Listing.bid(l.id, 'a', 5)",
                 "is not an auction");
    expect_error("var l = Listing.create({title: 'A2', price: 10, type: 'auction'});"
                 " Listing.bid(l.id, 'a', 5)", "below the asking price");
    expect_error("Listing.update(1, {bids: []})", "bids change only through Listing.bid");
    expect_error("Listing.create({title: 'x', price: 1, bids: [{bidder: 'a', amount: 1}]})",
                 "a new listing has no bids");
}

static void test_flow_steps_complete_only_in_order(void **state)
{
    (void)state;
    expect("var f = Flow.create({name: 'F'});\n"
           "var s1 = FlowStep.create({flow: f.id, order: 1});\n"
           "var s2 = FlowStep.create({flow: f.id, order: 2});\n"
           "var err = ''; try { FlowStep.complete(s2.id); } catch (e) { err = e.message; }\n"
           "var st = Flow.get(f.id).status;\n"
           "FlowStep.complete(s1.id); var mid = Flow.get(f.id).status;\n"
           "var c2 = FlowStep.complete(s2.id);\n"
           "[err.indexOf('cannot complete before 1 earlier') > 0, st, mid, Flow.get(f.id).status,"
           " c2.completed_at > 0]",
           "[true,\"created\",\"in_progress\",\"completed\",true]");
    expect_error("FlowStep.create({flow: 1, order: 3, status: 'completed'})",
                 "a new step starts pending");
    expect_error("var g = Flow.create({name: 'G'}); FlowStep.create({flow: g.id, order: 1});"
                 "var b = FlowStep.create({flow: g.id, order: 2});"
                 "FlowStep.update(b.id, {status: 'completed'})", "cannot complete before");
}

static void test_a_signature_is_signed_only_by_the_key_it_names(void **state)
{
    eng_output out;

    (void)state;
    expect("var f = Flow.create({name: 'Sign'});\n"
           "var s = FlowStep.create({flow: f.id, order: 1});\n"
           "SignatureRequirement.create({step: s.id, public_key: 'bobkey', message: 'ok'});\n"
           "SignatureRequirement.create({step: s.id, public_key: 'alice', message: 'ok'});\n"
           "SignatureRequirement.sign(2).status", "\"signed\"");
    /* alice is the caller: bob's requirement stays unsigned */
    expect_error("SignatureRequirement.sign(1)", "can only be signed by the holder");
    expect_error("SignatureRequirement.update(1, {status: 'signed'})",
                 "can only be signed by the holder");
    expect_error("SignatureRequirement.update(1, {public_key: 'alice'})", "never change");
    /* moving the pending requirement to another step would unblock this one */
    expect_error("var o = FlowStep.create({flow: 1, order: 2});\n"
                 "SignatureRequirement.update(1, {step: o.id})", "never change");
    expect_error("FlowStep.complete(1)", "waits for 1 signature");
    run_as(NULL, "c1", "bobkey", "SignatureRequirement.sign(1).signed_at > 0 && "
           "FlowStep.complete(1).status", &out);
    assert_int_equal(out.status, RHAI_STATUS_DONE);
    assert_string_equal(out.output, "\"completed\"");
    eng_output_clear(&out);
    expect_error("SignatureRequirement.update(1, {status: 'pending'})", "cannot be withdrawn");
}

static void test_an_event_cannot_end_before_it_starts(void **state)
{
    (void)state;
    expect("Event.create({title: 'ok', start: 10, end: 10}).end", "10");
    expect_error("Event.create({title: 'bad', start: 10, end: 9})",
                 "cannot end (9) before it starts (10)");
    expect_error("Event.update(1, {start: 11})", "before it starts");
}

static void test_groups_circles_and_collections_hold_existing_members_once(void **state)
{
    (void)state;
    expect("var c = Contact.create({name: 'a'}); var g = Group.create({name: 'g'});\n"
           "Group.add_member(g.id, c.id).members", "[1]");
    expect_error("Group.add_member(1, 1)", "contact 1 is in the group twice");
    expect_error("Group.add_member(1, 77)", "contact 77 does not exist");
    expect("var ci = Circle.create({name: 'c', members: [{member: 'al', role: 'admin'}]});\n"
           "Circle.add_member(ci.id, 'bo', 'guest').members.length", "2");
    expect_error("Circle.add_member(1, 'bo', 'admin')", "'bo' is in the circle twice");
    expect_error("Circle.create({name: 'x', members: [{member: 'a', role: 'guest'}]})",
                 "needs an admin");
    expect_error("Circle.add_member(1, 'z', 'boss')", "role must be");
    expect("var i = Image.create({title: 't', url: 'u'}); var co = Collection.create({title: 'c'});\n"
           "Collection.add(co.id, 'image', i.id).items[0].kind", "\"image\"");
    expect_error("Collection.add(1, 'pdf', 5)", "pdf 5 does not exist");
    expect_error("Collection.add(1, 'image', 1)", "twice");
}

/* ======================== atomic tasks ======================== */

static void test_an_uncaught_exception_rolls_back_every_write(void **state)
{
    (void)state;
    expect_error("Company.create({name: 'a'}); Company.create({name: 'b'});"
                 "throw new Error('boom')", "boom");
    expect("Company.count()", "0");
    /* and a result that cannot be produced rolls back too */
    expect_error("Company.create({name: 'c'}); var o = {}; o.self = o; o",
                 "cannot be serialised");
    expect("Company.count()", "0");
}

static void test_a_recorded_task_returns_its_result_without_running_again(void **state)
{
    eng_output out;
    const char *script = "var a = Account.list({where: {name: 'counter'}});\n"
                         "if (a.length === 0) Account.create({name: 'counter', owner: 'o', "
                         "balance: 1});\n"
                         "else Account.update(a[0].id, {balance: a[0].balance + 1});\n"
                         "'run at ' + Date.now() + ' balance ' + "
                         "Account.list({where: {name: 'counter'}})[0].balance";
    char first[200];

    (void)state;
    run_as("same-id", "ledger", "alice", script, &out);
    assert_int_equal(out.status, RHAI_STATUS_DONE);
    assert_non_null(strstr(out.output, "balance 1\""));
    snprintf(first, sizeof first, "%s", out.output);
    eng_output_clear(&out);
    run_as("same-id", "ledger", "alice", script, &out);
    assert_int_equal(out.status, RHAI_STATUS_DONE);
    assert_string_equal(out.output, first);            /* the recorded result */
    eng_output_clear(&out);
    /* another task id runs: the counter was incremented once */
    run_as("other-id", "ledger", "alice", script, &out);
    assert_int_equal(out.status, RHAI_STATUS_DONE);
    assert_non_null(strstr(out.output, "balance 2\""));
    eng_output_clear(&out);
    /* the same id in another context is another task */
    run_as("same-id", "ledger2", "alice", script, &out);
    assert_non_null(strstr(out.output, "balance 1\""));
    eng_output_clear(&out);
}

static void test_a_task_that_failed_is_not_recorded_and_may_run_again(void **state)
{
    eng_output out;

    (void)state;
    run_as("retry-me", "c1", "alice", "Company.create({name: 'x'}); throw 'later'", &out);
    assert_int_equal(out.status, RHAI_STATUS_ERROR);
    eng_output_clear(&out);
    run_as("retry-me", "c1", "alice", "Company.create({name: 'x'}); Company.count()", &out);
    assert_int_equal(out.status, RHAI_STATUS_DONE);
    assert_string_equal(out.output, "1");
    eng_output_clear(&out);
}

/* A store the host cannot use (here: a context file that is not a
 * database) is not the script's fault: the call throws StoreUnavailable,
 * uncaught the task ends internal and transient (rhaid runs it again
 * later); a script may catch it; a script naming its own error so is a
 * script error. */
/* The tasks recorded in the ledger of 'ctx' (store_context_info). */
static int64_t ledger_rows(const char *ctx)
{
    store *s;
    store_db *db;
    rhai_error err;
    json_t *info;
    int64_t n;

    assert_int_equal(store_new(data_url, &dsl_schema, &s, &err), 0);
    assert_int_equal(store_open(s, ctx, &db, &err), 0);
    assert_int_equal(store_context_info(db, &info, &err), 0);
    n = json_integer_value(json_object_get(info, "tasks_recorded"));
    json_decref(info);
    store_free(s);
    return n;
}

/* Expect the refusal of a reused task id: kind invalid, nothing of the
 * recorded run (nor of this one) in the output. */
static void expect_id_used(eng_output *out)
{
    if (out->status != RHAI_STATUS_ERROR || out->kind != RH_EK_INVALID)
        print_message("got %s kind %s: %s / %s\n", rh_status_str(out->status),
                      rh_kind_str(out->kind), out->output, out->error);
    assert_int_equal(out->status, RHAI_STATUS_ERROR);
    assert_int_equal(out->kind, RH_EK_INVALID);
    assert_null(out->output);
    assert_non_null(strstr(out->error, "task id already used"));
    assert_null(strstr(out->error, "secret"));
    eng_output_clear(out);
}

/* Issue 16, reading: alice's task L1 ran in acme; its hash and reply
 * expired; mallory, with no grant in acme, submits a task with id L1 and
 * got alice's recorded result. Now: a read-only task leaves no ledger row
 * (mallory's L1 runs as mallory's and is denied), and the row of a task
 * that wrote answers only alice's same submission. */
static void test_another_submission_under_a_recorded_id_gets_nothing_of_it(void **state)
{
    static const char reader[] = "Company.list().map(function (c) { return c.name; })";
    static const char writer[] = "Company.create({name: 'secret-' + args.n});\n"
                                 "Company.list().map(function (c) { return c.name; })";
    eng_output out;
    char first[200];
    int64_t rows;

    (void)state;
    rows = ledger_rows("acme");
    run_as("L1", "acme", "alice", reader, &out);
    assert_int_equal(out.status, RHAI_STATUS_DONE);
    eng_output_clear(&out);
    assert_int_equal(ledger_rows("acme"), rows);       /* wrote nothing: no row */
    run_as("L1", "acme", "mallory", "Company.list()", &out);
    assert_int_equal(out.status, RHAI_STATUS_ERROR);
    assert_int_equal(out.kind, RH_EK_DENIED);
    assert_null(out.output);
    eng_output_clear(&out);

    run_full("L2", "acme", "alice", "w", writer, "{\"n\": 1}", &out);
    assert_int_equal(out.status, RHAI_STATUS_DONE);
    assert_non_null(strstr(out.output, "secret-1"));
    snprintf(first, sizeof first, "%s", out.output);
    eng_output_clear(&out);
    assert_int_equal(ledger_rows("acme"), rows + 1);
    /* another caller, script, args or worker under L2 */
    run_as("L2", "acme", "mallory", "Company.list()", &out);
    expect_id_used(&out);
    run_full("L2", "acme", "mallory", "w", writer, "{\"n\": 1}", &out);
    expect_id_used(&out);
    run_full("L2", "acme", "alice", "w", "Company.count()", "{\"n\": 1}", &out);
    expect_id_used(&out);
    run_full("L2", "acme", "alice", "w", writer, "{\"n\": 2}", &out);
    expect_id_used(&out);
    run_full("L2", "acme", "alice", "w2", writer, "{\"n\": 1}", &out);
    expect_id_used(&out);
    /* caught, it changes nothing: the task still fails and writes nothing */
    run_full("L2", "acme", "alice", "w", "try { Company.create({name: 'x'}) } catch (e) {}\n"
             "Company.count()", "{\"n\": 1}", &out);
    expect_id_used(&out);
    /* the same submission again (a redelivery) is answered from the ledger */
    run_full("L2", "acme", "alice", "w", writer, "{\"n\": 1}", &out);
    assert_int_equal(out.status, RHAI_STATUS_DONE);
    assert_string_equal(out.output, first);
    eng_output_clear(&out);
    run_as(NULL, "acme", "alice", "Company.count()", &out);
    assert_string_equal(out.output, "1");              /* nothing else was written */
    eng_output_clear(&out);
    assert_int_equal(ledger_rows("acme"), rows + 1);
    /* mallory's refusals are audited, once per task id */
    run_as(NULL, "acme", "alice", "audit.query({caller: 'mallory', model: 'task'})"
           ".map(function (r) { return [r.op, r.task_id, r.decision]; })", &out);
    assert_string_equal(out.output, "[[\"run\",\"L2\",\"denied\"]]");
    eng_output_clear(&out);
}

/* Issue 16, planting: mallory's task F1, whose DSL calls were all denied
 * (and caught), wrote a ledger row, and alice's later task F1 was answered
 * with mallory's output, her writes never made. A task that wrote nothing
 * leaves no row. */
static void test_a_task_whose_calls_were_all_refused_plants_nothing(void **state)
{
    eng_output out;
    int64_t rows;

    (void)state;
    rows = ledger_rows("acme");
    run_as("F1", "acme", "mallory", "try { Company.create({name: 'evil'}) } catch (e) {}\n"
           "'planted'", &out);
    assert_int_equal(out.status, RHAI_STATUS_DONE);
    assert_string_equal(out.output, "\"planted\"");
    eng_output_clear(&out);
    assert_int_equal(ledger_rows("acme"), rows);
    run_as("F1", "acme", "alice", "Company.create({name: 'real'}).name", &out);
    assert_int_equal(out.status, RHAI_STATUS_DONE);
    assert_string_equal(out.output, "\"real\"");
    eng_output_clear(&out);
    run_as(NULL, "acme", "alice", "Company.count({where: {name: 'real'}})", &out);
    assert_string_equal(out.output, "1");
    eng_output_clear(&out);
    assert_int_equal(ledger_rows("acme"), rows + 1);
}

static void test_a_store_the_host_cannot_use_fails_the_task_as_transient(void **state)
{
    char path[400];
    FILE *f;
    eng_output out;

    (void)state;
    TH_SQLITE_ONLY();           /* a file that is not a database (postgres: test_store_pg) */
    snprintf(path, sizeof path, "%s/broken.db", data_dir);
    assert_non_null(f = fopen(path, "w"));
    for (int i = 0; i < 512; i++)
        fputs("not a database ", f);
    fclose(f);
    run_as(NULL, "broken", "alice", "Company.count()", &out);
    assert_int_equal(out.status, RHAI_STATUS_ERROR);
    assert_int_equal(out.kind, RH_EK_INTERNAL);
    assert_int_equal(out.transient, 1);
    assert_non_null(strstr(out.error, "StoreUnavailable: store unavailable: broken:"));
    eng_output_clear(&out);

    run_as(NULL, "broken", "alice", "try { Company.count() } catch (e) { e.name }", &out);
    assert_int_equal(out.status, RHAI_STATUS_DONE);
    assert_string_equal(out.output, "\"StoreUnavailable\"");
    assert_int_equal(out.transient, 0);
    eng_output_clear(&out);

    run_as(NULL, "c1", "alice",
           "var e = new Error('fake'); e.name = 'StoreUnavailable'; throw e", &out);
    assert_int_equal(out.kind, RH_EK_SCRIPT);
    assert_int_equal(out.transient, 0);
    eng_output_clear(&out);
}

static void test_tasks_without_the_dsl_never_open_sqlite(void **state)
{
    eng_output out;
    struct stat sb;
    char path[400];

    (void)state;
    run_as(NULL, "untouched", "alice", "40 + 2", &out);
    assert_string_equal(out.output, "42");
    eng_output_clear(&out);
    snprintf(path, sizeof path, "%s/untouched.db", data_dir);
    assert_int_not_equal(stat(path, &sb), 0);
    run_as(NULL, "untouched", "alice", "typeof Company.create", &out);
    assert_string_equal(out.output, "\"function\"");
    eng_output_clear(&out);
    assert_int_not_equal(stat(path, &sb), 0);
}

/* ======================== schemas ======================== */

static void test_every_declared_op_is_implemented_and_every_op_declared(void **state)
{
    (void)state;
    for (const dsl_op_decl *d = dsl_op_decls; d->model; d++) {
        int found = 0;
        for (size_t t = 0; dsl_op_tables[t]; t++)
            for (const dsl_op *op = dsl_op_tables[t]; op->model; op++)
                found += strcmp(op->model, d->model) == 0 && strcmp(op->name, d->name) == 0;
        if (found != 1)
            print_message("op %s.%s implemented %d times\n", d->model, d->name, found);
        assert_int_equal(found, 1);
    }
    for (size_t t = 0; dsl_op_tables[t]; t++)
        for (const dsl_op *op = dsl_op_tables[t]; op->model; op++) {
            int found = 0;
            for (const dsl_op_decl *d = dsl_op_decls; d->model; d++)
                found += strcmp(op->model, d->model) == 0 && strcmp(op->name, d->name) == 0;
            assert_int_equal(found, 1);
            assert_non_null(store_schema_model(&dsl_schema, op->model));
        }
}

/* The validator dslgen runs at build time refuses broken schemas. */
static void test_the_schema_validator_refuses_broken_schemas(void **state)
{
    static const struct {
        const char *doc;
        const char *want;
    } cases[] = {
        { "{\"domain\":\"d\",\"models\":[{\"name\":\"a\",\"fields\":[{\"name\":\"x\","
          "\"type\":\"string\"},{\"name\":\"x\",\"type\":\"int\"}]}]}", "duplicate field" },
        { "{\"domain\":\"d\",\"models\":[{\"name\":\"a\",\"fields\":[{\"name\":\"x\","
          "\"type\":\"money\"}]}]}", "unknown type \"money\"" },
        { "{\"domain\":\"d\",\"models\":[{\"name\":\"a\",\"fields\":[{\"name\":\"x\","
          "\"type\":\"ref\",\"ref\":\"ghost\"}]}]}", "ref to unknown model \"ghost\"" },
        { "{\"domain\":\"d\",\"models\":[{\"name\":\"a\",\"fields\":[{\"name\":\"x\","
          "\"type\":\"list\",\"of\":\"ghost\"}]}]}", "list of unknown" },
        { "{\"domain\":\"d\",\"models\":[{\"name\":\"a\",\"fields\":[{\"name\":\"x\","
          "\"type\":\"string\"}]},{\"name\":\"a\",\"fields\":[{\"name\":\"y\","
          "\"type\":\"string\"}]}]}", "duplicate model" },
        { "{\"domain\":\"d\",\"models\":[{\"name\":\"a\",\"fields\":[{\"name\":\"id\","
          "\"type\":\"int\"}]}]}", "reserved" },
        { "{\"domain\":\"d\",\"models\":[{\"name\":\"A b\",\"fields\":[]}]}", "not [a-z]" },
        { "{\"domain\":\"d\",\"models\":[{\"name\":\"a\",\"fields\":[{\"name\":\"x\","
          "\"type\":\"string\",\"requird\":true}]}]}", "unknown key \"requird\"" },
        { "{\"domain\":\"d\",\"models\":[{\"name\":\"a\",\"fields\":[{\"name\":\"x\","
          "\"type\":\"string\",\"enum\":[\"p\"],\"default\":\"q\"}]}]}", "not one of" },
        /* guarded fields: set_by names declared ops, on optional model fields */
        { "{\"domain\":\"d\",\"models\":[{\"name\":\"a\",\"fields\":[{\"name\":\"x\","
          "\"type\":\"int\",\"set_by\":true}]}]}", "set_by is a list" },
        { "{\"domain\":\"d\",\"models\":[{\"name\":\"a\",\"fields\":[{\"name\":\"x\","
          "\"type\":\"int\",\"set_by\":[\"a\"]}]}]}", "\"model.op\"" },
        { "{\"domain\":\"d\",\"models\":[{\"name\":\"a\",\"fields\":[{\"name\":\"x\","
          "\"type\":\"int\",\"set_by\":[\"ghost.op\"]}]}]}", "unknown model \"ghost\"" },
        { "{\"domain\":\"d\",\"models\":[{\"name\":\"a\",\"fields\":[{\"name\":\"x\","
          "\"type\":\"int\",\"set_by\":[\"a.pay\"]}]}]}", "not an op of model a" },
        { "{\"domain\":\"d\",\"models\":[{\"name\":\"a\",\"ops\":[{\"name\":\"pay\","
          "\"args\":\"\",\"returns\":\"A\",\"doc\":\"\"}],\"fields\":[{\"name\":\"x\","
          "\"type\":\"int\",\"set_by\":[\"a.pay\",\"a.pay\"]}]}]}", "twice" },
        { "{\"domain\":\"d\",\"models\":[{\"name\":\"a\",\"fields\":[{\"name\":\"x\","
          "\"type\":\"int\",\"required\":true,\"set_by\":[]}]}]}", "cannot be required" },
        { "{\"domain\":\"d\",\"structs\":[{\"name\":\"s\",\"fields\":[{\"name\":\"y\","
          "\"type\":\"int\",\"set_by\":[]}]}],\"models\":[{\"name\":\"a\",\"fields\":"
          "[{\"name\":\"x\",\"type\":\"list\",\"of\":\"s\"}]}]}", "not a struct's" },
    };
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *doc = json_loads(cases[i].doc, 0, NULL);
        assert_non_null(doc);
        err[0] = '\0';
        assert_int_equal(dsl_schema_check(&doc, 1, err, sizeof err), -1);
        if (strstr(err, cases[i].want) == NULL)
            print_message("case %zu: '%s' lacks '%s'\n", i, err, cases[i].want);
        assert_non_null(strstr(err, cases[i].want));
        json_decref(doc);
    }
    /* and accepts a guarded field whose set_by names an op, or none */
    {
        json_t *doc = json_loads("{\"domain\":\"d\",\"models\":[{\"name\":\"a\",\"ops\":"
                                 "[{\"name\":\"pay\",\"args\":\"\",\"returns\":\"A\","
                                 "\"doc\":\"\"}],\"fields\":[{\"name\":\"x\",\"type\":"
                                 "\"int\",\"set_by\":[\"a.pay\"]},{\"name\":\"y\",\"type\":"
                                 "\"int\",\"set_by\":[]}]}]}", 0, NULL);
        assert_non_null(doc);
        assert_int_equal(dsl_schema_check(&doc, 1, err, sizeof err), 0);
        json_decref(doc);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, dir_setup, dir_teardown)
    const struct CMUnitTest tests[] = {
        T(test_every_model_supports_create_get_update_list_count_delete_and_builder),
        T(test_builder_sets_fields_and_a_second_save_updates),
        T(test_list_filters_orders_pages_and_caps_its_limit),
        T(test_type_errors_name_the_field),
        T(test_bad_input_writes_nothing_and_is_stored_verbatim),
        T(test_malicious_context_ids_are_refused),
        T(test_a_sale_computes_its_total_and_takes_stock_never_below_zero),
        T(test_shareholder_percentages_never_exceed_100),
        T(test_transfers_are_atomic_and_never_overdraw),
        T(test_bids_beat_the_highest_and_expired_listings_take_none),
        T(test_flow_steps_complete_only_in_order),
        T(test_a_signature_is_signed_only_by_the_key_it_names),
        T(test_an_event_cannot_end_before_it_starts),
        T(test_groups_circles_and_collections_hold_existing_members_once),
        T(test_an_uncaught_exception_rolls_back_every_write),
        T(test_a_recorded_task_returns_its_result_without_running_again),
        T(test_a_task_that_failed_is_not_recorded_and_may_run_again),
        T(test_another_submission_under_a_recorded_id_gets_nothing_of_it),
        T(test_a_task_whose_calls_were_all_refused_plants_nothing),
        T(test_a_store_the_host_cannot_use_fails_the_task_as_transient),
        T(test_tasks_without_the_dsl_never_open_sqlite),
        cmocka_unit_test(test_every_declared_op_is_implemented_and_every_op_declared),
        cmocka_unit_test(test_the_schema_validator_refuses_broken_schemas),
    };
    return cmocka_run_group_tests_name("dsl", tests, NULL, NULL);
}
