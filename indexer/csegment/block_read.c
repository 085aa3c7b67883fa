/* One whoosh3 posting block's data read without unpickling all of it (indexer/postings.py).
 *
 * A block's data is the pickle (protocol 2) of (docnum deltas, weights, values); a positional
 * field's values are bytes, which protocol 2 pickles as _codecs.encode(their latin-1 text,
 * 'latin1') reduced: pickle.loads makes a str and calls a codec for every posting's value.
 * That was ~70% of the time to decode a block of a body field (93 of 132 us, zlib the rest),
 * paid by every query that reads a term's list although a term's match needs only the docnums
 * and the weights, and a phrase only a few documents' positions.
 *
 * decode_block(data, count, wanted) -> (docnums, weights, values) | None
 *   data     the block's data, decompressed (a prefix of it is enough when wanted is None)
 *   count    the postings in the block (its header's)
 *   wanted   None: the docnums and the weights only (with more than 3 postings the parse
 *            stops after the weights, so the values need not be decompressed);
 *            a list of posting indexes, ascending: those postings' values too;
 *            a buffer of int64 docnums, ascending: the values of the postings of those
 *            documents (None if one of them is not in the block)
 *   docnums  a bytearray of int64 in native order: the deltas (what whoosh3 stores) summed
 *   weights  None (all 1.0), a float (all the same), or a bytearray of float64 per posting
 *   values   a list of the wanted postings' values (bytes, or None where the block stores
 *            none), or None
 * None: a shape this reader does not know, a truncated or damaged pickle: the caller unpickles
 * with pickle.loads, which reads anything whoosh3 wrote and raises Whoosh's own errors.
 *
 * The reader is a small pickle machine for the opcodes CPython's pickler (and term_blocks.c)
 * writes for these tuples: ints, floats, None, tuples, the memo, _codecs.encode and bytes()
 * reductions. Nothing else (no lists, no other globals): it returns None for those.
 */

enum { IT_INT, IT_FLOAT, IT_NONE, IT_MARK, IT_TUPLE, IT_STR, IT_BYTES, IT_LATIN1, IT_ENCODE, IT_MAKE_BYTES };

typedef struct {
    uint8_t kind;
    int64_t i;                 /* IT_INT; IT_TUPLE: its first item in the arena */
    double f;                  /* IT_FLOAT */
    const unsigned char *p;    /* IT_STR, IT_BYTES, IT_LATIN1: the bytes in the pickle */
    Py_ssize_t n;              /* their length; IT_TUPLE: its items */
} Item;

typedef struct { Item *items; Py_ssize_t len, cap; } Items;

static int items_push(Items *s, Item it) {
    if (s->len == s->cap) {
        Py_ssize_t cap = s->cap ? s->cap * 2 : 256;
        Item *items = PyMem_Realloc(s->items, cap * sizeof(Item));
        if (!items) { PyErr_NoMemory(); return -1; }
        s->items = items;
        s->cap = cap;
    }
    s->items[s->len++] = it;
    return 0;
}

#define READ_UNKNOWN 1     /* a shape or opcode this reader leaves to pickle.loads */

typedef struct {
    const unsigned char *p, *end;
    Py_ssize_t size;       /* of the data */
    Items stack, arena;
    Item *memo;            /* BINPUT's entries, memo_set[k] when entry k was put */
    uint8_t *memo_set;
    Py_ssize_t memo_cap;
    Py_ssize_t marks;      /* MARKs on the stack */
} Reader;

static int memo_put(Reader *r, Py_ssize_t idx) {
    /* Each entry follows an opcode of its own: an index past the data's length is damage. */
    if (r->stack.len == 0 || r->stack.items[r->stack.len - 1].kind == IT_MARK || idx > r->size)
        return READ_UNKNOWN;
    if (idx >= r->memo_cap) {
        Py_ssize_t cap = r->memo_cap ? r->memo_cap : 256;
        while (cap <= idx) cap *= 2;
        Item *memo = PyMem_Realloc(r->memo, cap * sizeof(Item));
        if (!memo) { PyErr_NoMemory(); return -1; }
        r->memo = memo;
        uint8_t *set = PyMem_Realloc(r->memo_set, cap);
        if (!set) { PyErr_NoMemory(); return -1; }
        memset(set + r->memo_cap, 0, cap - r->memo_cap);
        r->memo_set = set;
        r->memo_cap = cap;
    }
    r->memo[idx] = r->stack.items[r->stack.len - 1];
    r->memo_set[idx] = 1;
    return 0;
}

/* Items above the topmost n (n >= 0) or above the topmost MARK (n < 0) made a tuple. */
static int make_tuple(Reader *r, Py_ssize_t n) {
    Py_ssize_t from;
    if (n >= 0) {
        if (r->stack.len < n) return READ_UNKNOWN;
        from = r->stack.len - n;
        for (Py_ssize_t k = from; k < r->stack.len; k++)
            if (r->stack.items[k].kind == IT_MARK) return READ_UNKNOWN;
    } else {
        if (!r->marks) return READ_UNKNOWN;
        from = r->stack.len - 1;
        while (r->stack.items[from].kind != IT_MARK) from--;
    }
    Item tuple = {IT_TUPLE, r->arena.len};
    for (Py_ssize_t k = n >= 0 ? from : from + 1; k < r->stack.len; k++)
        if (items_push(&r->arena, r->stack.items[k]) < 0) return -1;
    tuple.n = r->arena.len - tuple.i;
    if (n < 0) r->marks--;
    r->stack.len = from;
    return items_push(&r->stack, tuple);
}

static int need(Reader *r, Py_ssize_t n) { return r->end - r->p >= n ? 0 : READ_UNKNOWN; }

static uint32_t le32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

/* One opcode. 0 done with it, 2 at STOP, READ_UNKNOWN, -1 error. */
static int read_op(Reader *r) {
    if (need(r, 1)) return READ_UNKNOWN;
    unsigned char op = *r->p++;
    Item it = {IT_NONE};
    switch (op) {
    case 0x80:                                              /* PROTO */
        if (need(r, 1)) return READ_UNKNOWN;
        r->p++;
        return 0;
    case '(':                                               /* MARK */
        it.kind = IT_MARK;
        r->marks++;
        return items_push(&r->stack, it);
    case 'K':                                               /* BININT1 */
        if (need(r, 1)) return READ_UNKNOWN;
        it.kind = IT_INT; it.i = r->p[0]; r->p += 1;
        return items_push(&r->stack, it);
    case 'M':                                               /* BININT2 */
        if (need(r, 2)) return READ_UNKNOWN;
        it.kind = IT_INT; it.i = r->p[0] | r->p[1] << 8; r->p += 2;
        return items_push(&r->stack, it);
    case 'J':                                               /* BININT: signed */
        if (need(r, 4)) return READ_UNKNOWN;
        it.kind = IT_INT; it.i = (int32_t)le32(r->p); r->p += 4;
        return items_push(&r->stack, it);
    case 0x8a: {                                            /* LONG1: up to 8 bytes */
        if (need(r, 1)) return READ_UNKNOWN;
        int n = *r->p++;
        if (n > 8 || need(r, n)) return READ_UNKNOWN;
        uint64_t v = 0;
        for (int k = 0; k < n; k++) v |= (uint64_t)r->p[k] << (8 * k);
        if (n && n < 8 && (r->p[n - 1] & 0x80)) v |= ~(uint64_t)0 << (8 * n);   /* negative */
        it.kind = IT_INT; it.i = (int64_t)v; r->p += n;
        return items_push(&r->stack, it);
    }
    case 'G': {                                             /* BINFLOAT: big-endian */
        if (need(r, 8)) return READ_UNKNOWN;
        uint64_t bits = 0;
        for (int k = 0; k < 8; k++) bits = bits << 8 | r->p[k];
        it.kind = IT_FLOAT; memcpy(&it.f, &bits, 8); r->p += 8;
        return items_push(&r->stack, it);
    }
    case 'N':                                               /* NONE */
        return items_push(&r->stack, it);
    case ')':                                               /* EMPTY_TUPLE */
        it.kind = IT_TUPLE; it.i = r->arena.len; it.n = 0;
        return items_push(&r->stack, it);
    case 0x85: return make_tuple(r, 1);                     /* TUPLE1 */
    case 0x86: return make_tuple(r, 2);                     /* TUPLE2 */
    case 0x87: return make_tuple(r, 3);                     /* TUPLE3 */
    case 't': return make_tuple(r, -1);                     /* TUPLE */
    case 'q':                                               /* BINPUT */
        if (need(r, 1)) return READ_UNKNOWN;
        return memo_put(r, *r->p++);
    case 'r': {                                             /* LONG_BINPUT */
        if (need(r, 4)) return READ_UNKNOWN;
        Py_ssize_t idx = le32(r->p);
        r->p += 4;
        return memo_put(r, idx);
    }
    case 'h': case 'j': {                                   /* BINGET, LONG_BINGET */
        Py_ssize_t idx;
        if (op == 'h') { if (need(r, 1)) return READ_UNKNOWN; idx = *r->p++; }
        else { if (need(r, 4)) return READ_UNKNOWN; idx = le32(r->p); r->p += 4; }
        if (idx >= r->memo_cap || !r->memo_set[idx]) return READ_UNKNOWN;
        return items_push(&r->stack, r->memo[idx]);
    }
    case 'c': {                                             /* GLOBAL module\nname\n */
        static const char encode[] = "_codecs\nencode\n", bytes_[] = "__builtin__\nbytes\n";
        if (r->end - r->p >= (Py_ssize_t)sizeof(encode) - 1 && !memcmp(r->p, encode, sizeof(encode) - 1)) {
            it.kind = IT_ENCODE; r->p += sizeof(encode) - 1;
        } else if (r->end - r->p >= (Py_ssize_t)sizeof(bytes_) - 1 && !memcmp(r->p, bytes_, sizeof(bytes_) - 1)) {
            it.kind = IT_MAKE_BYTES; r->p += sizeof(bytes_) - 1;
        } else {
            return READ_UNKNOWN;
        }
        return items_push(&r->stack, it);
    }
    case 'X': case 0x8c: case 'B': case 'C': {              /* BINUNICODE, SHORT_BINUNICODE, BINBYTES, SHORT_BINBYTES */
        Py_ssize_t n;
        if (op == 'X' || op == 'B') { if (need(r, 4)) return READ_UNKNOWN; n = le32(r->p); r->p += 4; }
        else { if (need(r, 1)) return READ_UNKNOWN; n = *r->p++; }
        if (need(r, n)) return READ_UNKNOWN;
        it.kind = (op == 'X' || op == 0x8c) ? IT_STR : IT_BYTES; it.p = r->p; it.n = n; r->p += n;
        return items_push(&r->stack, it);
    }
    case 'R': {                                             /* REDUCE: callable, args */
        if (r->stack.len < 2) return READ_UNKNOWN;
        Item args = r->stack.items[r->stack.len - 1], fn = r->stack.items[r->stack.len - 2];
        if (args.kind != IT_TUPLE) return READ_UNKNOWN;
        if (fn.kind == IT_ENCODE && args.n == 2) {          /* _codecs.encode(text, 'latin1') */
            Item text = r->arena.items[args.i], codec = r->arena.items[args.i + 1];
            if (text.kind != IT_STR || codec.kind != IT_STR || codec.n != 6 || memcmp(codec.p, "latin1", 6))
                return READ_UNKNOWN;
            it.kind = IT_LATIN1; it.p = text.p; it.n = text.n;
        } else if (fn.kind == IT_MAKE_BYTES && args.n == 0) {   /* bytes() */
            it.kind = IT_BYTES; it.p = NULL; it.n = 0;
        } else {
            return READ_UNKNOWN;
        }
        r->stack.len -= 2;
        return items_push(&r->stack, it);
    }
    case '.':                                               /* STOP */
        return 2;
    default:
        return READ_UNKNOWN;
    }
}

/* The bytes of a latin-1 text given as its UTF-8 (every code point below 256), or of raw bytes. */
static PyObject *item_bytes(const Item *it) {
    if (it->kind == IT_NONE) Py_RETURN_NONE;
    if (it->kind == IT_BYTES) return PyBytes_FromStringAndSize((const char *)it->p, it->n);
    if (it->kind != IT_LATIN1) return Py_NewRef(Py_NotImplemented);
    Py_ssize_t n = 0;
    for (Py_ssize_t k = 0; k < it->n; k++) n += (it->p[k] & 0xc0) != 0x80;
    PyObject *out = PyBytes_FromStringAndSize(NULL, n);
    if (!out) return NULL;
    unsigned char *d = (unsigned char *)PyBytes_AS_STRING(out);
    for (Py_ssize_t k = 0; k < it->n; k++) {
        unsigned char c = it->p[k];
        if (c < 0x80) { *d++ = c; continue; }
        if ((c != 0xc2 && c != 0xc3) || k + 1 >= it->n || (it->p[k + 1] & 0xc0) != 0x80) {
            Py_DECREF(out);
            return Py_NewRef(Py_NotImplemented);            /* not latin-1 text */
        }
        *d++ = (unsigned char)((c & 0x1f) << 6 | (it->p[++k] & 0x3f));
    }
    return out;
}

static PyObject *decode_block(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) { PyErr_SetString(PyExc_TypeError, "decode_block(data, count, wanted)"); return NULL; }
    Py_ssize_t count = PyLong_AsSsize_t(args[1]);
    if (count == -1 && PyErr_Occurred()) return NULL;
    PyObject *wanted = args[2];
    Py_buffer docs = {0};              /* wanted as docnums */
    if (wanted != Py_None && !PyList_Check(wanted)) {
        if (PyObject_GetBuffer(wanted, &docs, PyBUF_SIMPLE) < 0) return NULL;
        if (docs.len % sizeof(int64_t)) {
            PyBuffer_Release(&docs);
            PyErr_SetString(PyExc_TypeError, "wanted: None, a list of indexes or a buffer of int64 docnums");
            return NULL;
        }
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) { if (docs.obj) PyBuffer_Release(&docs); return NULL; }
    Reader r = {view.buf, (const unsigned char *)view.buf + view.len, view.len};
    PyObject *result = NULL, *ids = NULL, *weights = NULL, *values = NULL;
    int status = 0, early = wanted == Py_None && count > 3;
    /* Early: with more than 3 postings the ids and a weights tuple are MARK ... TUPLE, so two
     * finished items on the stack with no MARK under them, and no BINPUT next, are both. */
    while (!(status = read_op(&r))) {
        if (early && r.stack.len == 2 && !r.marks && (r.p >= r.end || (*r.p != 'q' && *r.p != 'r'))) {
            status = 3;
            break;
        }
    }
    if (status < 0) goto done;
    Item *top = NULL, *parts = NULL;
    if (status == 2) {                                      /* STOP: the whole tuple */
        if (r.stack.len != 1 || (top = &r.stack.items[0])->kind != IT_TUPLE || top->n != 3) goto unknown;
        parts = &r.arena.items[top->i];
    } else if (status == 3) {
        parts = r.stack.items;
    } else {
        goto unknown;
    }
    Item id_tuple = parts[0], w = parts[1];
    if (id_tuple.kind != IT_TUPLE || id_tuple.n != count) goto unknown;
    ids = PyByteArray_FromStringAndSize(NULL, count * (Py_ssize_t)sizeof(int64_t));
    if (!ids) goto done;
    int64_t *out_ids = (int64_t *)PyByteArray_AS_STRING(ids), sum = 0;
    for (Py_ssize_t k = 0; k < count; k++) {
        Item *d = &r.arena.items[id_tuple.i + k];
        if (d->kind != IT_INT) goto unknown;
        sum += d->i;
        out_ids[k] = sum;
    }
    if (w.kind == IT_NONE) {
        weights = Py_NewRef(Py_None);
    } else if (w.kind == IT_FLOAT) {
        weights = PyFloat_FromDouble(w.f);
    } else if (w.kind == IT_TUPLE && w.n == count) {
        weights = PyByteArray_FromStringAndSize(NULL, count * (Py_ssize_t)sizeof(double));
        if (weights) {
            double *out_w = (double *)PyByteArray_AS_STRING(weights);
            for (Py_ssize_t k = 0; k < count; k++) {
                Item *x = &r.arena.items[w.i + k];
                if (x->kind == IT_FLOAT) out_w[k] = x->f;
                else if (x->kind == IT_INT) out_w[k] = (double)x->i;
                else goto unknown;
            }
        }
    } else {
        goto unknown;
    }
    if (!weights) goto done;
    if (wanted == Py_None) {
        values = Py_NewRef(Py_None);
    } else {
        /* The values: a tuple of them; None (a format without values); or, for a format of
         * fixed size, one bytes object joining them (whoosh3's _mini_values). */
        Item v = parts[2];
        PyObject *joined = NULL;
        Py_ssize_t size = 0;
        if (status != 2) goto unknown;
        if (v.kind == IT_LATIN1 || v.kind == IT_BYTES) {
            if (!(joined = item_bytes(&v))) goto done;
            if (joined == Py_NotImplemented || count == 0 || PyBytes_GET_SIZE(joined) % count) {
                Py_DECREF(joined);
                goto unknown;
            }
            size = PyBytes_GET_SIZE(joined) / count;
        } else if (!((v.kind == IT_TUPLE && v.n == count) || v.kind == IT_NONE)) {
            goto unknown;
        }
        Py_ssize_t n = docs.obj ? docs.len / (Py_ssize_t)sizeof(int64_t) : PyList_GET_SIZE(wanted);
        const int64_t *wanted_docs = docs.buf;
        Py_ssize_t next = 0;               /* docnums: where the walk over out_ids is */
        if (!(values = PyList_New(n))) { Py_XDECREF(joined); goto done; }
        for (Py_ssize_t k = 0; k < n; k++) {
            Py_ssize_t at;
            PyObject *value = NULL;
            if (docs.obj) {                /* both ascending: one walk */
                while (next < count && out_ids[next] < wanted_docs[k]) next++;
                if (next == count || out_ids[next] != wanted_docs[k]) { Py_XDECREF(joined); goto unknown; }
                at = next;
            } else {
                at = PyLong_AsSsize_t(PyList_GET_ITEM(wanted, k));
                if (at == -1 && PyErr_Occurred()) { Py_XDECREF(joined); goto done; }
            }
            if (at < 0 || at >= count) PyErr_SetString(PyExc_IndexError, "a wanted posting is not in the block");
            else if (joined) value = PyBytes_FromStringAndSize(PyBytes_AS_STRING(joined) + at * size, size);
            else value = item_bytes(v.kind == IT_NONE ? &v : &r.arena.items[v.i + at]);
            if (!value) { Py_XDECREF(joined); goto done; }
            if (value == Py_NotImplemented) { Py_DECREF(value); Py_XDECREF(joined); goto unknown; }
            PyList_SET_ITEM(values, k, value);
        }
        Py_XDECREF(joined);
    }
    result = PyTuple_Pack(3, ids, weights, values);
    goto done;
unknown:
    if (!PyErr_Occurred()) result = Py_NewRef(Py_None);
done:
    Py_XDECREF(ids); Py_XDECREF(weights); Py_XDECREF(values);
    PyMem_Free(r.stack.items); PyMem_Free(r.arena.items); PyMem_Free(r.memo); PyMem_Free(r.memo_set);
    PyBuffer_Release(&view);
    if (docs.obj) PyBuffer_Release(&docs);
    return result;
}
