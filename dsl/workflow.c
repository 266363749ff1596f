/* workflow.c -- domain workflow: flows, ordered steps, signatures.
 *
 * Invariants:
 *  - a step completes only when every step of its flow with a lower order
 *    has completed and every signature requirement of the step is signed;
 *    the flow becomes in_progress with its first completed step and
 *    completed with its last.
 *  - a signature requirement is signed only by the caller whose public key
 *    it names (a signed task's caller_id is its signer's key); its step,
 *    key and message never change, and a new one starts pending. */
#include <string.h>

#include "dsl.h"

static int count_where(store_db *db, const char *model, json_t *where, int64_t *n,
                       rhai_error *err)
{
    int rc;

    if (where == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    rc = store_count(db, dsl_model(model), where, n, err);
    json_decref(where);
    return rc;
}

static int step_check(store_db *db, const store_model *m, json_t *old, json_t *row,
                      rhai_error *err)
{
    json_int_t flow = dsl_int(row, "flow");
    int64_t n = 0;
    json_t *upd;
    int rc;

    (void)m;
    if (strcmp(dsl_str(row, "status"), "completed") != 0 ||
        (old && strcmp(dsl_str(old, "status"), "completed") == 0))
        return 0;
    if (old == NULL)
        return rh_error_set(err, RHAI_ESTATE, "a new step starts pending: complete it with "
                            "FlowStep.complete");
    if (old && dsl_int(old, "flow") != flow)
        return rh_error_set(err, RHAI_ESTATE, "a step cannot move to another flow");
    /* completing reads the flow's steps and the step's signatures */
    if ((rc = dsl_authorize(db, "flow_step", STORE_OP_READ, 0, err)) != 0 ||
        (rc = dsl_authorize(db, "signature_requirement", STORE_OP_READ, 0, err)) != 0)
        return rc;
    rc = count_where(db, "flow_step",
                     json_pack("{sI s{sI} s{ss}}", "flow", flow, "order", "lt",
                               dsl_int(row, "order"), "status", "ne", "completed"),
                     &n, err);
    if (rc == 0 && n > 0)
        return rh_error_set(err, RHAI_ESTATE, "step %lld (order %lld) cannot complete "
                            "before %lld earlier step(s) of flow %lld",
                            (long long)dsl_int(row, "id"), (long long)dsl_int(row, "order"),
                            (long long)n, (long long)flow);
    if (rc == 0)
        rc = count_where(db, "signature_requirement",
                         json_pack("{sI s{ss}}", "step", dsl_int(row, "id"), "status", "ne",
                                   "signed"), &n, err);
    if (rc == 0 && n > 0)
        return rh_error_set(err, RHAI_ESTATE, "step %lld waits for %lld signature(s)",
                            (long long)dsl_int(row, "id"), (long long)n);
    if (rc != 0)
        return rc;
    if (json_is_null(json_object_get(row, "completed_at")) ||
        !json_object_get(row, "completed_at"))
        json_object_set_new(row, "completed_at", json_integer(rh_now_ms()));
    /* the other steps still pending decide the flow's status */
    rc = count_where(db, "flow_step",
                     json_pack("{sI s{ss} s{sI}}", "flow", flow, "status", "ne", "completed",
                               "id", "ne", dsl_int(row, "id")), &n, err);
    if (rc != 0)
        return rc;
    upd = json_pack("{ss}", "status", n == 0 ? "completed" : "in_progress");
    rc = upd ? dsl_update_audited(db, dsl_model("flow"), flow, upd, err)
             : rh_error_set(err, RHAI_ENOMEM, "out of memory");
    json_decref(upd);
    return rc;
}

static int signature_check(store_db *db, const store_model *m, json_t *old, json_t *row,
                           rhai_error *err)
{
    (void)db;
    (void)m;
    if (old == NULL) {
        if (strcmp(dsl_str(row, "status"), "pending") != 0)
            return rh_error_set(err, RHAI_ESTATE, "a new signature requirement starts "
                                "pending: sign it with SignatureRequirement.sign");
        return 0;
    }
    /* moving a pending requirement off its step would unblock that step */
    if (dsl_int(old, "step") != dsl_int(row, "step") ||
        strcmp(dsl_str(old, "public_key"), dsl_str(row, "public_key")) != 0 ||
        strcmp(dsl_str(old, "message"), dsl_str(row, "message")) != 0)
        return rh_error_set(err, RHAI_ESTATE, "the step, key and message of a signature "
                            "requirement never change");
    if (strcmp(dsl_str(row, "status"), "signed") == 0 &&
        strcmp(dsl_str(old, "status"), "signed") != 0) {
        if (strcmp(dsl_caller(), dsl_str(row, "public_key")) != 0)
            return rh_error_set(err, RHAI_ESTATE, "signature requirement %lld can only be "
                                "signed by the holder of its public key",
                                (long long)dsl_int(row, "id"));
        json_object_set_new(row, "signed_at", json_integer(rh_now_ms()));
    } else if (strcmp(dsl_str(old, "status"), "signed") == 0 &&
               strcmp(dsl_str(row, "status"), "signed") != 0) {
        return rh_error_set(err, RHAI_ESTATE, "a signature cannot be withdrawn");
    }
    return 0;
}

/* Model.<op>(id): update one string field to a value, through the checks. */
static void set_status(js_State *J, const char *what, const char *status)
{
    const store_model *m = js_currentfunctiondata(J);
    int64_t id;
    json_t *v;

    dsl_call_begin(J);
    id = dsl_arg_id(J, 1, what);
    v = dsl_keep(J, json_pack("{ss}", "status", status));
    dsl_do_update(J, m, id, v, DSL_BY_OP);      /* the op sets the guarded status */
}

static void step_complete(js_State *J)
{
    set_status(J, "FlowStep.complete", "completed");
}

static void signature_sign(js_State *J)
{
    set_status(J, "SignatureRequirement.sign", "signed");
}

const dsl_op dsl_workflow_ops[] = {
    { "flow_step", "complete", step_complete, 1 },
    { "signature_requirement", "sign", signature_sign, 1 },
    { NULL, NULL, NULL, 0 }
};

const dsl_check dsl_workflow_checks[] = {
    { "flow_step", step_check },
    { "signature_requirement", signature_check },
    { NULL, NULL }
};
