/* business.c -- domain business: companies, products, sales, shareholders.
 *
 * Invariants, checked on every write whatever the entry point:
 *  - a sale's total is the sum of quantity x unit_price over its items;
 *    creating a sale takes each item's units from its product's stock
 *    (the product must exist and be available, the stock never goes
 *    negative) and fills a missing unit_price from the product's price;
 *    the items of a recorded sale never change.
 *  - the percentages of a company's shareholders never add up past 100. */
#include <string.h>

#include "dsl.h"

/* Items: check, price, and (on create) take from stock. */
static int sale_check(store_db *db, const store_model *m, json_t *old, json_t *row,
                      rhai_error *err)
{
    const store_model *product = dsl_model("product");
    json_t *items = json_object_get(row, "items");
    json_t *it;
    double total = 0;
    size_t i;

    (void)m;
    if (old != NULL && !json_equal(json_object_get(old, "items"), items))
        return rh_error_set(err, RHAI_ESTATE, "sale %lld: the items of a recorded sale "
                            "cannot change (cancel it and record a new one)",
                            (long long)dsl_int(old, "id"));
    if (json_array_size(items) == 0)
        return rh_error_set(err, RHAI_ESTATE, "a sale needs at least one item");
    json_array_foreach(items, i, it) {
        json_int_t pid = dsl_int(it, "product");
        json_int_t qty = dsl_int(it, "quantity");
        json_t *p = NULL;
        int rc;

        if (old == NULL) {
            json_int_t stock;
            json_t *upd;
            /* taking stock updates the product: decided before reading it */
            if ((rc = dsl_authorize(db, product->name, STORE_OP_UPDATE, pid, err)) != 0)
                return rc;
            if ((rc = store_get(db, product, pid, &p, err)) != 0)
                return rc == RHAI_ENOTFOUND
                           ? rh_error_set(err, RHAI_ESTATE, "sale item %zu: product %lld "
                                          "does not exist", i, (long long)pid)
                           : rc;
            stock = dsl_int(p, "stock");
            if (strcmp(dsl_str(p, "status"), "available") != 0) {
                json_decref(p);
                return rh_error_set(err, RHAI_ESTATE, "sale item %zu: product %lld is not "
                                    "available", i, (long long)pid);
            }
            if (stock < qty) {
                json_decref(p);
                return rh_error_set(err, RHAI_ESTATE, "sale item %zu: product %lld has %lld "
                                    "in stock, cannot sell %lld", i, (long long)pid,
                                    (long long)stock, (long long)qty);
            }
            if (json_object_get(it, "unit_price") == NULL ||
                json_is_null(json_object_get(it, "unit_price")))
                json_object_set_new(it, "unit_price", json_real(dsl_num(p, "price")));
            json_decref(p);
            upd = json_pack("{sI}", "stock", (json_int_t)(stock - qty));
            rc = upd ? dsl_update_audited(db, product, pid, upd, err)
                     : rh_error_set(err, RHAI_ENOMEM, "out of memory");
            json_decref(upd);
            if (rc != 0)
                return rc;
        }
        total += (double)qty * dsl_num(it, "unit_price");
    }
    json_object_set_new(row, "total", json_real(total));
    return 0;
}

static int shareholder_check(store_db *db, const store_model *m, json_t *old, json_t *row,
                             rhai_error *err)
{
    json_int_t company = dsl_int(row, "company");
    json_int_t self = dsl_int(row, "id");
    double sum = dsl_num(row, "percentage");
    json_t *where = json_pack("{sI}", "company", company);
    long offset = 0;
    int rc = 0;

    (void)old;
    if (where == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    /* the sum reads every shareholder of the company */
    if ((rc = dsl_authorize(db, m->name, STORE_OP_READ, 0, err)) != 0) {
        json_decref(where);
        return rc;
    }
    for (;;) {
        json_t *rows = NULL;
        json_t *r;
        size_t i;
        if ((rc = store_list(db, m, where, NULL, STORE_LIST_MAX, offset, &rows, err)) != 0)
            break;
        json_array_foreach(rows, i, r)
            if (dsl_int(r, "id") != self)
                sum += dsl_num(r, "percentage");
        offset += (long)json_array_size(rows);
        i = json_array_size(rows);
        json_decref(rows);
        if (i < STORE_LIST_MAX)
            break;
    }
    json_decref(where);
    if (rc == 0 && sum > 100.0 + 1e-9)
        rc = rh_error_set(err, RHAI_ESTATE, "shareholders of company %lld would hold "
                          "%.4g%%, more than 100%%", (long long)company, sum);
    return rc;
}

/* Sale.record(values): a sale, priced from its products, stock taken. */
static void sale_record(js_State *J)
{
    const store_model *m = js_currentfunctiondata(J);

    dsl_call_begin(J);
    /* the script's values: total is computed by sale_check, after the guard */
    dsl_do_create(J, m, dsl_values_from_js(J, 1, m, DSL_CREATE, "Sale.record"),
                  DSL_BY_SCRIPT);
}

const dsl_op dsl_business_ops[] = {
    { "sale", "record", sale_record, 1 },
    { NULL, NULL, NULL, 0 }
};

const dsl_check dsl_business_checks[] = {
    { "sale", sale_check },
    { "shareholder", shareholder_check },
    { NULL, NULL }
};
