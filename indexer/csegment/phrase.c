/* Which documents have a phrase's words at consecutive positions (arrayscore._phrase).
 *
 * Each word's positions in a document are its posting's value, as Whoosh's Positions format
 * writes it: the count as 4 bytes, then the list of position deltas pickled with protocol 2
 * (its STOP may be cut off in a block). Reading them with the format's decode_positions
 * (pickle.loads and a Python loop per value) and comparing them as Python sets was ~20% of an
 * entity query at 100k articles, whose names are phrases of frequent Vietnamese syllables.
 *
 * consecutive_docs(values) -> bytearray | None
 *   values  one list per word, in the phrase's order, of each common document's value (bytes);
 *           the lists are as long as each other
 *   ->      a byte per document: 1 where, for some position p of the first word, word k
 *           occurs at p + k for every k (what _consecutive answers)
 *   None:   a value this reader does not know (another shape, a damaged value, a count that
 *           does not match its list): the caller decodes every value with decode_positions.
 *
 * The pickles read are what CPython's pickler writes for a list of ints: PROTO 2, EMPTY_LIST,
 * BINPUT or LONG_BINPUT, then one item and APPEND, or MARK, items, APPENDS (in batches of
 * 1,000), each item BININT1, BININT2 or BININT.
 */

#define PHRASE_UNKNOWN 1

typedef struct { int64_t *v; Py_ssize_t len, cap; } Positions;

static int positions_push(Positions *s, int64_t v) {
    if (s->len == s->cap) {
        Py_ssize_t cap = s->cap ? s->cap * 2 : 64;
        int64_t *grown = PyMem_Realloc(s->v, cap * sizeof(int64_t));
        if (!grown) { PyErr_NoMemory(); return -1; }
        s->v = grown;
        s->cap = cap;
    }
    s->v[s->len++] = v;
    return 0;
}

/* One value's positions into out (emptied first): 0, -1 with an exception set, or PHRASE_UNKNOWN. */
static int decode_positions_value(PyObject *value, Positions *out) {
    if (!PyBytes_Check(value)) return PHRASE_UNKNOWN;
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(value);
    const unsigned char *end = p + PyBytes_GET_SIZE(value);
    out->len = 0;
    if (end - p < 7) return PHRASE_UNKNOWN;
    uint32_t count = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];   /* pack_uint: big-endian */
    p += 4;
    if (p[0] != 0x80 || p[1] != 2 || p[2] != ']') return PHRASE_UNKNOWN;
    p += 3;
    if (p < end && (*p == 'q' || *p == 'r')) {      /* the list's memo entry */
        Py_ssize_t skip = *p == 'q' ? 2 : 5;
        if (end - p < skip) return PHRASE_UNKNOWN;
        p += skip;
    }
    int64_t position = 0;
    int in_mark = 0;
    Py_ssize_t pending = 0;     /* items since the last APPEND(S) */
    while (p < end) {
        unsigned char op = *p++;
        int64_t delta;
        switch (op) {
        case 'K':
            if (end - p < 1) return PHRASE_UNKNOWN;
            delta = p[0];
            p += 1;
            break;
        case 'M':
            if (end - p < 2) return PHRASE_UNKNOWN;
            delta = p[0] | p[1] << 8;
            p += 2;
            break;
        case 'J':
            if (end - p < 4) return PHRASE_UNKNOWN;
            delta = (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
            p += 4;
            break;
        case '(':
            if (in_mark || pending) return PHRASE_UNKNOWN;
            in_mark = 1;
            continue;
        case 'e':
            if (!in_mark) return PHRASE_UNKNOWN;
            in_mark = 0;
            pending = 0;
            continue;
        case 'a':
            if (in_mark || pending != 1) return PHRASE_UNKNOWN;
            pending = 0;
            continue;
        case '.':
            if (p != end || in_mark || pending) return PHRASE_UNKNOWN;
            continue;
        default:
            return PHRASE_UNKNOWN;
        }
        if ((!in_mark && pending) || delta < 0) return PHRASE_UNKNOWN;   /* a second item outside a MARK; unsorted */
        pending++;
        position += delta;
        if (positions_push(out, position) < 0) return -1;
    }
    if (in_mark || pending || (Py_ssize_t)count != out->len) return PHRASE_UNKNOWN;
    return 0;
}

/* Is v in the non-decreasing positions? */
static int positions_has(const Positions *s, int64_t v) {
    Py_ssize_t lo = 0, hi = s->len;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (s->v[mid] < v) lo = mid + 1;
        else hi = mid;
    }
    return lo < s->len && s->v[lo] == v;
}

static PyObject *consecutive_docs(PyObject *self, PyObject *words) {
    if (!PyList_Check(words) || PyList_GET_SIZE(words) < 1) Py_RETURN_NONE;
    Py_ssize_t nwords = PyList_GET_SIZE(words), ndocs = -1;
    for (Py_ssize_t k = 0; k < nwords; k++) {
        PyObject *list = PyList_GET_ITEM(words, k);
        if (!PyList_Check(list) || (ndocs >= 0 && PyList_GET_SIZE(list) != ndocs)) Py_RETURN_NONE;
        ndocs = PyList_GET_SIZE(list);
    }
    PyObject *mask = PyByteArray_FromStringAndSize(NULL, ndocs);
    Positions *decoded = PyMem_Calloc(nwords, sizeof(Positions));
    if (!mask || !decoded) {
        Py_XDECREF(mask);
        PyMem_Free(decoded);
        return PyErr_NoMemory();
    }
    char *out = PyByteArray_AS_STRING(mask);
    int status = 0;
    for (Py_ssize_t d = 0; d < ndocs && status == 0; d++) {
        for (Py_ssize_t k = 0; k < nwords && status == 0; k++)
            status = decode_positions_value(PyList_GET_ITEM(PyList_GET_ITEM(words, k), d), &decoded[k]);
        if (status) break;
        char found = nwords == 1;      /* as _consecutive: one word is always "consecutive" */
        for (Py_ssize_t i = 0; i < decoded[0].len && !found; i++) {
            int64_t start = decoded[0].v[i];
            Py_ssize_t k = 1;
            while (k < nwords && positions_has(&decoded[k], start + k)) k++;
            found = k == nwords;
        }
        out[d] = found;
    }
    for (Py_ssize_t k = 0; k < nwords; k++) PyMem_Free(decoded[k].v);
    PyMem_Free(decoded);
    if (status < 0) {
        Py_DECREF(mask);
        return NULL;
    }
    if (status == PHRASE_UNKNOWN) {
        Py_DECREF(mask);
        Py_RETURN_NONE;
    }
    return mask;
}
