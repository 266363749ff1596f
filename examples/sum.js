// sum.js -- arithmetic over the task's arguments.
// args: {"numbers": [..]} (default 1..10). Result: count, sum, mean, min,
// max and the population standard deviation, rounded to 4 places.
var numbers = (args && args.numbers) || [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

if (!(numbers instanceof Array) || numbers.length === 0)
    throw new TypeError('args.numbers must be a non-empty array of numbers');
numbers.forEach(function (n, i) {
    if (typeof n !== 'number' || !isFinite(n))
        throw new TypeError('args.numbers[' + i + '] is not a finite number: ' + n);
});

function round(x) {
    return Math.round(x * 10000) / 10000;
}

var sum = numbers.reduce(function (a, b) { return a + b; }, 0);
var mean = sum / numbers.length;
var variance = numbers.reduce(function (a, n) {
    return a + (n - mean) * (n - mean);
}, 0) / numbers.length;

({
    count: numbers.length,
    sum: round(sum),
    mean: round(mean),
    min: Math.min.apply(null, numbers),
    max: Math.max.apply(null, numbers),
    stddev: round(Math.sqrt(variance))
});
