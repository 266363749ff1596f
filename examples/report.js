// report.js -- a JSON report built from the task's arguments.
// args: {"currency": "EUR", "today": "YYYY-MM-DD", "invoices": [{"customer",
// "amount", "due", "paid"}]}. Result: totals per customer, the overdue
// invoices and a grand total; amounts are kept in cents to stay exact.
var a = args || {};
var currency = a.currency || 'EUR';
var today = a.today || '2025-01-31';
var invoices = a.invoices || [
    { id: 'INV-1', customer: 'acme', amount: 120.50, due: '2025-01-15', paid: true },
    { id: 'INV-2', customer: 'acme', amount: 80.00, due: '2025-02-15', paid: false },
    { id: 'INV-3', customer: 'globex', amount: 300.00, due: '2025-01-20', paid: false }
];

function cents(x) { return Math.round(x * 100); }
function money(c) { return (c / 100).toFixed(2) + ' ' + currency; }

var customers = {};
var overdue = [];
var total = 0;
var open = 0;

invoices.forEach(function (inv) {
    var c = customers[inv.customer] ||
        (customers[inv.customer] = { invoices: 0, billed: 0, outstanding: 0 });
    var amount = cents(inv.amount);
    c.invoices += 1;
    c.billed += amount;
    total += amount;
    if (!inv.paid) {
        c.outstanding += amount;
        open += amount;
        if (inv.due < today)        // ISO dates compare as strings
            overdue.push({ id: inv.id, customer: inv.customer, due: inv.due,
                           amount: money(amount) });
    }
});

var byCustomer = Object.keys(customers).sort().map(function (name) {
    var c = customers[name];
    return { customer: name, invoices: c.invoices, billed: money(c.billed),
             outstanding: money(c.outstanding) };
});

({
    generated_for: ctx.caller_id,
    context: ctx.context_id,
    as_of: today,
    customers: byCustomer,
    overdue: overdue,
    total_billed: money(total),
    total_outstanding: money(open)
});
