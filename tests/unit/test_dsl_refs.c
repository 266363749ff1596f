/* test_dsl_refs.c -- Model.delete and the references between models
 * (schema key on_delete, dsl/refs.c), through the engine in this process.
 *
 * restrict: Company.delete fails with a catchable Conflict while a product
 * or a sale references the company, and nothing is deleted; once the
 * references are gone it succeeds, and a later update of a row that
 * referenced it does not fail. cascade: Flow.delete takes its steps and
 * their signature requirements with it, in one call, each audited with a
 * reason; a caller without delete on every cascaded row gets
 * PermissionDenied and nothing is deleted. The schema checker refuses a
 * ref without on_delete. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dsl/dsl.h"
#include "th_store.h"
#include "dsl/dsl_schema.h"

#define CTX "r"
#define OWNER "owner"

static char data_dir[256];
static char data_url[2048];    /* data_dir, or a fresh postgres database */
static store *st;
static store_db *db;
static int seq;

static void run(const char *caller, const char *script, eng_output *out)
{
    char id[32];
    eng_input in;

    snprintf(id, sizeof id, "rf-%d", ++seq);
    memset(&in, 0, sizeof in);
    in.task_id = id;
    in.script = script;
    in.script_len = strlen(script);
    in.context_id = CTX;
    in.caller_id = caller;
    in.worker_id = "w";
    assert_int_equal(eng_run(&in, NULL, out), 0);
}

static void expect(const char *caller, const char *script, const char *want)
{
    eng_output out;

    run(caller, script, &out);
    if (out.status != RHAI_STATUS_DONE || strcmp(out.output, want) != 0)
        print_message("%s: %s\n  got %s / %s, want %s\n", caller, script, out.output,
                      out.error, want);
    assert_int_equal(out.status, RHAI_STATUS_DONE);
    assert_string_equal(out.output, want);
    eng_output_clear(&out);
}

static void expect_fail(const char *caller, const char *script, rh_error_kind kind,
                        const char *want)
{
    eng_output out;

    run(caller, script, &out);
    if (out.status != RHAI_STATUS_ERROR || out.kind != kind || !strstr(out.error, want))
        print_message("%s: %s\n  got %s kind %s: %s, want '%s'\n", caller, script,
                      rh_status_str(out.status), rh_kind_str(out.kind), out.error, want);
    assert_int_equal(out.status, RHAI_STATUS_ERROR);
    assert_int_equal(out.kind, kind);
    assert_non_null(strstr(out.error, want));
    eng_output_clear(&out);
}

static void add_grant(const char *caller, const char *model, unsigned ops)
{
    store_grant g = { caller, model, ops, 0, 0, OWNER };
    rhai_error err;

    assert_int_equal(store_grant_add(db, &g, NULL, &err), 0);
}

/* Audit rows of op 'delete' on 'model' whose reason holds 'reason'. */
static int audit_deletes(const char *model, const char *reason)
{
    rhai_error err;
    json_t *rows, *r;
    size_t i;
    int n = 0;

    assert_int_equal(store_audit_query(db, NULL, model, "allowed", STORE_LIST_MAX, &rows,
                                       &err), 0);
    json_array_foreach(rows, i, r) {
        const char *why = json_string_value(json_object_get(r, "reason"));
        n += strcmp(json_string_value(json_object_get(r, "op")), "delete") == 0 &&
             (reason == NULL ? why == NULL : why != NULL && strstr(why, reason) != NULL);
    }
    json_decref(rows);
    return n;
}

static int ctx_setup(void **state)
{
    rhai_error err;

    (void)state;
    snprintf(data_dir, sizeof data_dir, "/tmp/rhai-test-dslrefs-XXXXXX");
    if (mkdtemp(data_dir) == NULL || th_store_url(data_dir, data_url, sizeof data_url) != 0 ||
        dsl_install(data_url, &err) != 0 ||
        store_new(data_url, &dsl_schema, &st, &err) != 0 ||
        store_context_create(st, CTX, OWNER, &err) != 0 || store_open(st, CTX, &db, &err) != 0)
        return -1;
    return 0;
}

static int ctx_teardown(void **state)
{
    char cmd[300];

    (void)state;
    store_free(st);
    st = NULL;
    dsl_uninstall();
    th_store_done(data_url);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", data_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ======================== restrict ======================== */

static void test_a_referenced_company_is_not_deleted_and_its_products_stay_usable(void **s)
{
    (void)s;
    expect(OWNER, "var c = Company.create({name: 'Acme'}).id;"
           "Product.create({company: c, name: 'W', price: 1}).id", "1");
    /* uncaught: error_kind script, naming the reference */
    expect_fail(OWNER, "Company.delete(1)", RH_EK_SCRIPT,
                "Conflict: cannot delete company 1: product rows still reference it "
                "(product.company, on_delete restrict)");
    /* caught: a Conflict with its properties, and nothing deleted */
    expect(OWNER, "try { Company.delete(1); 'deleted' } catch (e) { [e.name, e.model, "
           "e.object_id, e.referenced_by, e instanceof Error].join(' ') }",
           "\"Conflict company 1 product.company true\"");
    expect(OWNER, "[Company.count(), Product.count()]", "[1,1]");
    /* the product stays usable: its update checks its ref, which holds */
    expect(OWNER, "Product.update(1, {category: 'c'}).category", "\"c\"");
    /* once nothing references it, the delete goes through */
    expect(OWNER, "Product.update(1, {company: null}); Company.delete(1)", "true");
    expect(OWNER, "Product.update(1, {category: 'd'}).company", "null");
    expect(OWNER, "Company.count()", "0");
}

static void test_a_sold_product_is_not_deleted_through_a_sales_items(void **s)
{
    (void)s;
    /* sale_item.product: a ref inside a list of structs */
    expect(OWNER, "var c = Company.create({name: 'A'}).id;"
           "var p = Product.create({company: c, name: 'W', price: 2, stock: 5}).id;"
           "var q = Product.create({company: c, name: 'V', price: 3, stock: 5}).id;"
           "Sale.create({company: c, buyer: 'b', items: [{product: q, quantity: 1}, "
           "{product: p, quantity: 2}]}).id", "1");
    expect(OWNER, "try { Product.delete(1); 'deleted' } catch (e) { e.referenced_by }",
           "\"sale.items[].product\"");
    expect(OWNER, "Product.create({company: 1, name: 'X', price: 1}).id", "3");
    expect(OWNER, "Product.delete(3)", "true");            /* in no sale */
    /* the company is held by its products and by the sale */
    expect(OWNER, "try { Company.delete(1) } catch (e) { e.referenced_by }",
           "\"product.company\"");
    expect(OWNER, "Sale.delete(1); Product.delete(1); Product.delete(2); Company.delete(1)",
           "true");
    expect(OWNER, "[Company.count(), Product.count(), Sale.count()]", "[0,0,0]");
}

/* ======================== cascade ======================== */

static void seed_flows(void)
{
    expect(OWNER, "var f = Flow.create({name: 'F'}).id; var g = Flow.create({name: 'G'}).id;"
           "var s1 = FlowStep.create({flow: f, order: 1}).id;"
           "var s2 = FlowStep.create({flow: f, order: 2}).id;"
           "FlowStep.create({flow: g, order: 1});"
           "SignatureRequirement.create({step: s1, public_key: 'k1', message: 'm'});"
           "SignatureRequirement.create({step: s2, public_key: 'k2', message: 'm'});"
           "[f, g]", "[1,2]");
}

static void test_a_flow_takes_its_steps_and_their_requirements_with_it(void **s)
{
    (void)s;
    seed_flows();
    expect(OWNER, "Flow.delete(1)", "true");
    expect(OWNER, "[Flow.count(), FlowStep.count(), SignatureRequirement.count(), "
           "FlowStep.list()[0].flow]", "[1,1,0,2]");
    /* one audit row per row deleted, the cascaded ones with their reason */
    assert_int_equal(audit_deletes("flow", NULL), 1);
    assert_int_equal(audit_deletes("flow_step", "cascade: flow 1 was deleted "
                                   "(flow_step.flow, on_delete cascade)"), 2);
    assert_int_equal(audit_deletes("signature_requirement", "cascade: flow_step "), 2);
    expect_fail(OWNER, "Flow.delete(1)", RH_EK_SCRIPT, "flow 1 not found");
}

static void test_a_cascade_needs_delete_on_every_row_it_reaches(void **s)
{
    (void)s;
    seed_flows();
    /* delete on flows only: the steps are not bob's to delete */
    add_grant("bob", "flow", STORE_OP_DELETE);
    expect_fail("bob", "Flow.delete(1)", RH_EK_DENIED,
                "PermissionDenied: caller 'bob' may not delete flow_step 1");
    expect(OWNER, "[Flow.count(), FlowStep.count(), SignatureRequirement.count()]",
           "[2,3,2]");
    /* caught, the task goes on with nothing deleted */
    expect("bob", "try { Flow.delete(1) } catch (e) { e.name + ' ' + e.model }",
           "\"PermissionDenied flow_step\"");
    add_grant("bob", "flow_step", STORE_OP_DELETE);
    expect_fail("bob", "Flow.delete(1)", RH_EK_DENIED,
                "may not delete signature_requirement 1");
    add_grant("bob", "signature_requirement", STORE_OP_DELETE);
    expect("bob", "Flow.delete(1)", "true");
    expect(OWNER, "[Flow.count(), FlowStep.count(), SignatureRequirement.count()]",
           "[1,1,0]");
    /* a grantee without delete on the flow learns nothing of its steps */
    expect_fail("carol", "Flow.delete(2)", RH_EK_DENIED, "may not delete flow 2");
}

static void test_a_company_takes_its_shareholders_but_not_its_products(void **s)
{
    (void)s;
    expect(OWNER, "var c = Company.create({name: 'A'}).id;"
           "Shareholder.create({company: c, holder: 'h', percentage: 10});"
           "Shareholder.create({company: c, holder: 'i', percentage: 20});"
           "Product.create({company: c, name: 'W', price: 1}).id", "1");
    /* restrict wins: nothing is deleted, shareholders included */
    expect(OWNER, "try { Company.delete(1) } catch (e) { e.name }", "\"Conflict\"");
    expect(OWNER, "Shareholder.count()", "2");
    expect(OWNER, "Product.delete(1); Company.delete(1)", "true");
    expect(OWNER, "[Company.count(), Shareholder.count()]", "[0,0]");
    assert_int_equal(audit_deletes("shareholder", "cascade: company 1 was deleted"), 2);
}

/* ======================== schema ======================== */

static void test_the_schema_checker_wants_on_delete_on_every_ref(void **s)
{
    static const char *const bad[][2] = {
        { "{\"name\": \"x\", \"type\": \"ref\", \"ref\": \"m\"}", "needs \"on_delete\"" },
        { "{\"name\": \"x\", \"type\": \"ref\", \"ref\": \"m\", \"on_delete\": \"null\"}",
          "on_delete is \"restrict\" or \"cascade\"" },
        { "{\"name\": \"x\", \"type\": \"int\", \"on_delete\": \"cascade\"}",
          "only goes with type ref" },
    };
    char err[256], text[512];

    (void)s;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *doc;
        snprintf(text, sizeof text, "{\"domain\": \"d\", \"models\": [{\"name\": \"m\", "
                 "\"fields\": [%s]}]}", bad[i][0]);
        doc = json_loads(text, 0, NULL);
        assert_non_null(doc);
        assert_int_equal(dsl_schema_check(&doc, 1, err, sizeof err), -1);
        if (strstr(err, bad[i][1]) == NULL)
            print_message("%s: %s\n", bad[i][0], err);
        assert_non_null(strstr(err, bad[i][1]));
        json_decref(doc);
    }
    /* every ref compiled in declares it */
    for (size_t m = 0; m < dsl_schema.nmodels; m++)
        for (size_t f = 0; f < dsl_schema.models[m].nfields; f++) {
            const store_field *fd = &dsl_schema.models[m].fields[f];
            int found = 0;
            if (fd->type != STORE_T_REF)
                continue;
            for (const dsl_ref_decl *d = dsl_refs; d->model; d++)
                found |= strcmp(d->model, dsl_schema.models[m].name) == 0 &&
                         strcmp(d->field, fd->name) == 0 && d->item == NULL;
            assert_true(found);
        }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, ctx_setup, ctx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_a_referenced_company_is_not_deleted_and_its_products_stay_usable),
        T(test_a_sold_product_is_not_deleted_through_a_sales_items),
        T(test_a_flow_takes_its_steps_and_their_requirements_with_it),
        T(test_a_cascade_needs_delete_on_every_row_it_reaches),
        T(test_a_company_takes_its_shareholders_but_not_its_products),
        T(test_the_schema_checker_wants_on_delete_on_every_ref),
    };
    return cmocka_run_group_tests_name("dsl_refs", tests, NULL, NULL);
}
