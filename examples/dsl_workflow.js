// dsl_workflow.js -- a two-step approval flow; the second step needs the
// signature of the task's caller (for a signed task: its public key).
// Run: rhaictl run examples/dsl_workflow.js -c legal -u alice
var flow = Flow.create({ name: "Approve supplier contract" });
var review = FlowStep.create({ flow: flow.id, order: 1, description: "Legal review" });
var approve = FlowStep.create({ flow: flow.id, order: 2, description: "Director approval" });
var sig = SignatureRequirement.create({ step: approve.id, public_key: ctx.caller_id,
                                        message: "I approve the supplier contract" });

var outOfOrder = "";
try {
    FlowStep.complete(approve.id);             // steps complete only in order
} catch (e) {
    outOfOrder = e.message;
}
FlowStep.complete(review.id);
SignatureRequirement.sign(sig.id);             // only ctx.caller_id may sign it
FlowStep.complete(approve.id);

({ flow: Flow.get(flow.id).status, refused_first: outOfOrder })
