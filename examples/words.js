// words.js -- string processing: word frequencies of a text.
// args: {"text": "...", "top": N} (defaults below). Result: the number of
// words, of distinct words, the longest word and the N most frequent words
// with their counts (ties in alphabetical order).
var text = (args && typeof args.text === 'string') ? args.text :
    'The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs.';
var top = (args && args.top > 0) ? Math.floor(args.top) : 3;

var words = text.toLowerCase().split(/[^a-z0-9']+/).filter(function (w) {
    return w.length > 0;
});
var counts = {};
var longest = '';
words.forEach(function (w) {
    counts[w] = (counts[w] || 0) + 1;
    if (w.length > longest.length)
        longest = w;
});

var ranked = Object.keys(counts).sort(function (a, b) {
    return counts[b] - counts[a] || (a < b ? -1 : a > b ? 1 : 0);
}).slice(0, top).map(function (w) {
    return { word: w, count: counts[w] };
});

({
    words: words.length,
    distinct: Object.keys(counts).length,
    longest: longest,
    top: ranked,
    title: text.split(/\s+/).slice(0, 4).map(function (w) {
        return w.charAt(0).toUpperCase() + w.slice(1).toLowerCase();
    }).join(' ')
});
