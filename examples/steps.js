// steps.js -- a task that reports its progress with print().
// Every print() line is captured into the reply's "logs" (rhaictl shows
// them on stderr as "log: ..."). args: {"items": [...]} (default below).
// Result: what was processed and what was skipped, and why.
var items = (args && args.items) || ['alpha', 'beta', '', 'gamma', 42];
var done = [];
var skipped = [];

print('task ' + ctx.task_id + ' on worker ' + ctx.worker_id + ': ' +
      items.length + ' items');
items.forEach(function (item, i) {
    if (typeof item !== 'string' || item.length === 0) {
        print('item ' + i + ': skipped (' + JSON.stringify(item) + ' is not a name)');
        skipped.push(i);
        return;
    }
    var checksum = 0;
    for (var k = 0; k < item.length; k++)
        checksum = (checksum * 31 + item.charCodeAt(k)) % 65521;
    print('item ' + i + ': ' + item + ' -> ' + checksum);
    done.push({ name: item, checksum: checksum });
});
print('finished: ' + done.length + ' done, ' + skipped.length + ' skipped');

({ processed: done, skipped: skipped });
