// dsl_finance.js -- open two accounts, transfer between them, run an auction.
// Run: rhaictl run examples/dsl_finance.js -c treasury
var ops = Account.create({ name: "Operating", owner: "acme", balance: 1000 });
var payroll = Account.create({ name: "Payroll", owner: "acme" });
var moved = Account.transfer(ops.id, payroll.id, 250);

var refused = "";
try {
    Account.transfer(payroll.id, ops.id, 10000);     // never leaves a negative balance
} catch (e) {
    refused = e.message;
}

var token = Asset.create({ name: "Gold token", type: "erc20", amount: 10, decimals: 18 });
var listing = Listing.create({ title: "10 gold tokens", asset: token.id, price: 100,
                               type: "auction", seller: "acme",
                               expires: Date.now() + 24 * 3600 * 1000 });
Listing.bid(listing.id, "dave", 100);
var last = Listing.bid(listing.id, "erin", 130);

({
    operating: moved.from.balance,
    payroll: moved.to.balance,
    refused: refused,
    highest_bid: last.bids[last.bids.length - 1]
})
