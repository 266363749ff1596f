/* finance.c -- domain finance: accounts, assets, marketplace listings.
 *
 * Invariants:
 *  - a balance never goes negative (the schema's min 0, checked on every
 *    write), and Account.transfer moves an amount between two accounts of
 *    one currency atomically: both rows change or neither does.
 *  - bids go through Listing.bid only: an active auction that has not
 *    expired takes a bid that beats the highest one (or, for the first,
 *    reaches the asking price); plain updates cannot touch bids. */
#include <math.h>
#include <string.h>

#include "dsl.h"

static int listing_check(store_db *db, const store_model *m, json_t *old, json_t *row,
                         rhai_error *err)
{
    json_t *bids = json_object_get(row, "bids");

    (void)db;
    (void)m;
    if (old == NULL && json_array_size(bids) > 0)
        return rh_error_set(err, RHAI_ESTATE, "a new listing has no bids: use Listing.bid");
    if (old != NULL && !json_equal(json_object_get(old, "bids"), bids) &&
        !(json_is_null(json_object_get(old, "bids")) && json_array_size(bids) == 0))
        return rh_error_set(err, RHAI_ESTATE, "listing %lld: bids change only through "
                            "Listing.bid", (long long)dsl_int(old, "id"));
    return 0;
}

/* Account.transfer(from, to, amount) -> { from: Account, to: Account } */
static void account_transfer(js_State *J)
{
    const store_model *m = js_currentfunctiondata(J);
    json_t *a = NULL, *b = NULL, *res = NULL;
    int64_t from, to;
    double amount;
    store_db *db;
    rhai_error err;
    int rc;

    dsl_call_begin(J);
    from = dsl_arg_id(J, 1, "Account.transfer: from");
    to = dsl_arg_id(J, 2, "Account.transfer: to");
    amount = dsl_arg_number(J, 3, "Account.transfer: amount");
    if (!(amount > 0))
        js_rangeerror(J, "Account.transfer: amount must be positive");
    if (from == to)
        js_rangeerror(J, "Account.transfer: from and to are the same account");
    db = dsl_write_begin(J);
    /* both accounts decided before either is read */
    rc = dsl_authorize(db, m->name, STORE_OP_UPDATE, from, &err);
    if (rc == 0)
        rc = dsl_authorize(db, m->name, STORE_OP_UPDATE, to, &err);
    if (rc == 0)
        rc = store_get(db, m, from, &a, &err);
    if (rc == 0)
        rc = store_get(db, m, to, &b, &err);
    if (rc == 0 && strcmp(dsl_str(a, "currency"), dsl_str(b, "currency")) != 0)
        rc = rh_error_set(&err, RHAI_ESTATE, "transfer: account %lld is in %s, account %lld "
                          "in %s", (long long)from, dsl_str(a, "currency"), (long long)to,
                          dsl_str(b, "currency"));
    if (rc == 0 && dsl_num(a, "balance") < amount)
        rc = rh_error_set(&err, RHAI_ESTATE, "transfer: insufficient funds in account %lld "
                          "(balance %.2f, amount %.2f)", (long long)from,
                          dsl_num(a, "balance"), amount);
    if (rc == 0) {
        json_t *ua = json_pack("{sf}", "balance", dsl_num(a, "balance") - amount);
        json_t *ub = json_pack("{sf}", "balance", dsl_num(b, "balance") + amount);
        json_decref(a);
        json_decref(b);
        a = b = NULL;
        if (ua == NULL || ub == NULL)
            rc = rh_error_set(&err, RHAI_ENOMEM, "out of memory");
        if (rc == 0)
            rc = dsl_update_checked(db, m, from, ua, DSL_BY_OP, &a, &err);
        if (rc == 0)
            rc = dsl_update_checked(db, m, to, ub, DSL_BY_OP, &b, &err);
        json_decref(ua);
        json_decref(ub);
    }
    if (rc == 0 && (res = json_object()) != NULL) {
        json_object_set(res, "from", a);
        json_object_set(res, "to", b);
    } else if (rc == 0) {
        rc = rh_error_set(&err, RHAI_ENOMEM, "out of memory");
    }
    json_decref(a);
    json_decref(b);
    dsl_write_end_row(J, db, rc, &err, res);
}

/* Listing.bid(id, bidder, amount) -> Listing */
static void listing_bid(js_State *J)
{
    const store_model *m = js_currentfunctiondata(J);
    char bidder[201];
    json_t *l = NULL, *row = NULL, *upd = NULL;
    int64_t id;
    double amount;
    store_db *db;
    rhai_error err;
    int rc;

    dsl_call_begin(J);
    id = dsl_arg_id(J, 1, "Listing.bid: id");
    if (strlen(dsl_arg_string(J, 2, "Listing.bid: bidder")) > 200 ||
        !*js_tostring(J, 2))
        js_typeerror(J, "Listing.bid: bidder must be 1..200 bytes");
    snprintf(bidder, sizeof bidder, "%s", js_tostring(J, 2));
    amount = dsl_arg_number(J, 3, "Listing.bid: amount");
    if (!(amount > 0))
        js_rangeerror(J, "Listing.bid: amount must be positive");
    db = dsl_write_begin(J);
    rc = dsl_authorize(db, m->name, STORE_OP_UPDATE, id, &err);
    if (rc == 0)
        rc = store_get(db, m, id, &l, &err);
    if (rc == 0) {
        json_t *bids = json_object_get(l, "bids");
        json_t *bd;
        double highest = -1;
        json_int_t expires = dsl_int(l, "expires");
        size_t i;

        json_array_foreach(bids, i, bd)
            if (dsl_num(bd, "amount") > highest)
                highest = dsl_num(bd, "amount");
        if (strcmp(dsl_str(l, "type"), "auction") != 0)
            rc = rh_error_set(&err, RHAI_ESTATE, "listing %lld is not an auction",
                              (long long)id);
        else if (strcmp(dsl_str(l, "status"), "active") != 0)
            rc = rh_error_set(&err, RHAI_ESTATE, "listing %lld is %s, not active",
                              (long long)id, dsl_str(l, "status"));
        else if (expires > 0 && rh_now_ms() > expires)
            rc = rh_error_set(&err, RHAI_ESTATE, "listing %lld expired: it takes no bids",
                              (long long)id);
        else if (highest >= 0 && !(amount > highest))
            rc = rh_error_set(&err, RHAI_ESTATE, "bid %.2f does not beat the highest bid "
                              "%.2f", amount, highest);
        else if (highest < 0 && amount < dsl_num(l, "price"))
            rc = rh_error_set(&err, RHAI_ESTATE, "bid %.2f is below the asking price %.2f",
                              amount, dsl_num(l, "price"));
        if (rc == 0) {
            json_t *nb = json_array();
            json_t *bid = json_pack("{ss sf sI}", "bidder", bidder, "amount", amount, "time",
                                    (json_int_t)rh_now_ms());
            if (nb && json_is_array(bids))
                json_array_extend(nb, bids);
            if (nb == NULL || bid == NULL || json_array_append_new(nb, bid) != 0 ||
                (upd = json_object()) == NULL || json_object_set_new(upd, "bids", nb) != 0)
                rc = rh_error_set(&err, RHAI_ENOMEM, "out of memory");
            /* bids bypass listing_check, which guards them from plain updates */
            if (rc == 0)
                rc = dsl_update_audited(db, m, id, upd, &err);
            if (rc == 0)
                rc = store_get(db, m, id, &row, &err);
        }
    }
    json_decref(l);
    json_decref(upd);
    dsl_write_end_row(J, db, rc, &err, row);
}

const dsl_op dsl_finance_ops[] = {
    { "account", "transfer", account_transfer, 3 },
    { "listing", "bid", listing_bid, 3 },
    { NULL, NULL, NULL, 0 }
};

const dsl_check dsl_finance_checks[] = {
    { "listing", listing_check },
    { NULL, NULL }
};
