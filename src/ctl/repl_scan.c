/* repl_scan.c -- the REPL's view of JavaScript text: is an entry whole,
 * and which top-level function declarations does it hold.
 *
 * Not a parser: one pass over the bytes that knows what can hide a
 * bracket (strings, comments, regular expression literals) and where a
 * statement can start. Whatever it gets wrong only decides when to stop
 * reading lines, or which source remote mode carries; the engine parses
 * the entry itself and reports its errors. */
#include <ctype.h>
#include <string.h>

#include "repl.h"

/* One pass: what is open at the end, and the declarations found. */
typedef struct scan {
    const char    *s;
    size_t         n;
    int            depth;        /* ( [ { open, minus closed */
    int            open_string;  /* a string continues on the next line */
    int            open_comment; /* a block comment is not closed */
    char           prev;         /* last significant byte; 'a' a word, 0 none */
    char           word[16];     /* the last word, when prev is 'a' */
    int            newline;      /* a line ended since prev */
    ctl_repl_decl *out;
    size_t         max;
    size_t         count;
    int            pending;      /* inside a declaration's parameters or body */
    int            body;         /* its body's '{' was seen */
    ctl_repl_decl  cur;
} scan;

static int is_ident(int c)
{
    return isalnum(c) || c == '_' || c == '$' || (c & 0x80);
}

/* Can a '/' here start a regular expression rather than divide? */
static int regex_allowed(const scan *sc)
{
    static const char *const kw[] = { "return", "typeof", "instanceof", "in", "of",
                                      "new", "delete", "void", "throw", "case", "do",
                                      "else", NULL };

    if (sc->prev == 0)
        return 1;
    if (sc->prev == 'a') {
        for (int i = 0; kw[i]; i++)
            if (strcmp(sc->word, kw[i]) == 0)
                return 1;
        return 0;
    }
    return strchr(")]", sc->prev) == NULL && sc->prev != '0';
}

/* Can a statement start here (for `function NAME`)? */
static int statement_start(const scan *sc)
{
    if (sc->prev == 0 || sc->prev == ';' || sc->prev == '}')
        return 1;
    /* a line break ends a statement unless the line ended mid-expression */
    return sc->newline && strchr("=(,:?+-*/%&|^!~<>[.{", sc->prev) == NULL;
}

/* From a quote at i: the index past the closing quote, or n. */
static size_t skip_string(scan *sc, size_t i)
{
    char q = sc->s[i++];

    while (i < sc->n) {
        char c = sc->s[i];
        if (c == '\\') {
            if (i + 1 >= sc->n) {           /* a backslash ends the text */
                sc->open_string = 1;
                return sc->n;
            }
            if (sc->s[i + 1] == '\n' && i + 2 >= sc->n) {
                sc->open_string = 1;        /* continued on the next line */
                return sc->n;
            }
            i += 2;
            continue;
        }
        if (c == q)
            return i + 1;
        if (c == '\n')                      /* unterminated: the engine says so */
            return i;
        i++;
    }
    return sc->n;
}

/* From the '/' of a regular expression at i: the index past it. */
static size_t skip_regex(const scan *sc, size_t i)
{
    int klass = 0;

    for (i++; i < sc->n && sc->s[i] != '\n'; i++) {
        char c = sc->s[i];
        if (c == '\\') {
            i++;
            continue;
        }
        if (c == '[')
            klass = 1;
        else if (c == ']')
            klass = 0;
        else if (c == '/' && !klass)
            return i + 1;
    }
    return i;
}

/* A word at i: a keyword, a name, or a function declaration's start. */
static size_t scan_word(scan *sc, size_t i)
{
    size_t j = i;

    while (j < sc->n && is_ident((unsigned char)sc->s[j]))
        j++;
    if (sc->depth == 0 && !sc->pending && j - i == 8 &&
        memcmp(sc->s + i, "function", 8) == 0 && statement_start(sc)) {
        size_t k = j, name;
        while (k < sc->n && isspace((unsigned char)sc->s[k]))
            k++;
        name = k;
        while (k < sc->n && is_ident((unsigned char)sc->s[k]))
            k++;
        if (k > name && k - name < sizeof sc->cur.name) {
            memset(&sc->cur, 0, sizeof sc->cur);
            sc->cur.start = i;
            memcpy(sc->cur.name, sc->s + name, k - name);
            sc->pending = 1;
            sc->body = 0;
        }
    }
    sc->prev = isdigit((unsigned char)sc->s[i]) ? '0' : 'a';
    if (j - i < sizeof sc->word) {
        memcpy(sc->word, sc->s + i, j - i);
        sc->word[j - i] = '\0';
    } else {
        sc->word[0] = '\0';
    }
    return j;
}

static void scan_bracket(scan *sc, char c, size_t i)
{
    if (c == '(' || c == '[' || c == '{') {
        if (c == '{' && sc->pending && sc->depth == 0)
            sc->body = 1;
        sc->depth++;
        return;
    }
    sc->depth--;
    if (sc->pending && sc->depth == 0 && c == '}' && sc->body) {
        sc->cur.end = i + 1;
        if (sc->count < sc->max)
            sc->out[sc->count] = sc->cur;
        sc->count++;
        sc->pending = 0;
    } else if (sc->depth < 0) {
        sc->pending = 0;
    }
}

static void scan_run(scan *sc)
{
    size_t i = 0;

    while (i < sc->n) {
        char c = sc->s[i];
        char d = i + 1 < sc->n ? sc->s[i + 1] : '\0';

        if (c == '\n') {
            sc->newline = 1;
            i++;
        } else if (isspace((unsigned char)c)) {
            i++;
        } else if (c == '/' && d == '/') {
            while (i < sc->n && sc->s[i] != '\n')
                i++;
        } else if (c == '/' && d == '*') {
            const char *e = NULL;
            for (size_t k = i + 2; k + 1 < sc->n; k++)
                if (sc->s[k] == '*' && sc->s[k + 1] == '/') {
                    e = sc->s + k;
                    break;
                }
            if (e == NULL) {
                sc->open_comment = 1;
                return;
            }
            if (memchr(sc->s + i, '\n', (size_t)(e - (sc->s + i))) != NULL)
                sc->newline = 1;
            i = (size_t)(e - sc->s) + 2;
        } else if (c == '"' || c == '\'') {
            i = skip_string(sc, i);
            sc->prev = '"';
            sc->newline = 0;
        } else if (c == '/' && regex_allowed(sc)) {
            i = skip_regex(sc, i);
            sc->prev = '"';
            sc->newline = 0;
        } else if (is_ident((unsigned char)c)) {
            i = scan_word(sc, i);
            sc->newline = 0;
        } else {
            if (strchr("()[]{}", c))
                scan_bracket(sc, c, i);
            sc->prev = c;
            sc->newline = 0;
            i++;
        }
    }
}

int ctl_repl_complete(const char *src, size_t n)
{
    scan sc;

    memset(&sc, 0, sizeof sc);
    sc.s = src;
    sc.n = n;
    /* a line is given with or without its newline: judge the text */
    while (sc.n > 0 && (sc.s[sc.n - 1] == '\n' || sc.s[sc.n - 1] == '\r'))
        sc.n--;
    scan_run(&sc);
    return !(sc.open_string || sc.open_comment || sc.depth > 0);
}

size_t ctl_repl_functions(const char *src, size_t n, ctl_repl_decl *out, size_t max)
{
    scan sc;

    memset(&sc, 0, sizeof sc);
    sc.s = src;
    sc.n = n;
    sc.out = out;
    sc.max = max;
    scan_run(&sc);
    return sc.count < max ? sc.count : max;
}
