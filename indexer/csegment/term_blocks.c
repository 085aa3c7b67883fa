/* One term's posting blocks, encoded in C the way whoosh3's W3 codec writes them.
 *
 * encode_term(postings, lengths, fixed_size, limit, level, offset) -> (blob, terminfo) takes a
 * term's postings (field, term, docnum, weight, value) in docnum order and returns what
 * indexer/termwriter.py's encode_term_reference returns: the bytes of the term's blocks in
 * the postings file (the "W3Bl" magic, then per block a signed size, a pickled header and the
 * pickled, maybe zlib-compressed, ids/weights/values) and W3TermInfo.to_bytes() for them at
 * `offset`. The pickles are protocol 2 as CPython's pickler writes them, memo and all (a value
 * object repeated in a block is a BINGET), so the segment files are the same bytes: the
 * install-time check and tests/test_csegment.py compare them with the Python reference.
 *
 * Why: writing a segment's postings in Python was ~3.5 us per posting (2.4 CPU-s for the
 * 695,000 postings of 1,500 articles), 10-12% of a reindex.
 *
 * Returns None if every posting is a spelling marker (docnum -1), and NotImplemented for
 * anything outside what it was checked on (a weight that is not a float, a NaN, a value that
 * is not bytes, an id outside 0..2^31-1, a float too large for the term info, an empty joined
 * value): the caller then runs the Python reference, which raises or writes as Whoosh would.
 * Blocks are compressed through indexer.deflate.compress, as the Python writer does, so
 * compressed blocks are its bytes too.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define COMPRESSION_MIN_SIZE 80     /* whoosh3: smaller blocks are stored as they are */
#define LENGTH_CUTOFF 106374        /* whoosh.util.numeric.length_to_byte: at or past it, 255 */
#define SPELLING_DOCNUM -1

static PyObject *zlib_compress;     /* indexer.deflate.compress */
static long length_table[256];      /* whoosh.util.numeric._length_byte_cache */
static int length_table_size = -1;  /* until set_length_table() */

/* ---- a growable byte buffer ---- */
typedef struct { char *data; Py_ssize_t len, cap; } Buf;

static int buf_put(Buf *b, const void *p, Py_ssize_t n) {
    if (b->len + n > b->cap) {
        Py_ssize_t cap = b->cap ? b->cap : 512;
        while (cap < b->len + n) cap *= 2;
        char *d = PyMem_Realloc(b->data, cap);
        if (!d) { PyErr_NoMemory(); return -1; }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static int buf_byte(Buf *b, unsigned char c) { return buf_put(b, &c, 1); }

static int buf_be32(Buf *b, uint32_t v) {
    unsigned char d[4] = {v >> 24, v >> 16, v >> 8, v};
    return buf_put(b, d, 4);
}

static int buf_be64(Buf *b, uint64_t v) {
    unsigned char d[8];
    for (int i = 0; i < 8; i++) d[i] = (unsigned char)(v >> (56 - 8 * i));
    return buf_put(b, d, 8);
}

/* ---- protocol 2 pickling of what a block holds ---- */
typedef struct {
    Buf *out;
    Py_ssize_t memo;                 /* entries so far: the next BINPUT's index */
    Py_ssize_t codecs_at, latin1_at; /* memo indexes of _codecs.encode and 'latin1', -1 before */
    PyObject **seen;                 /* value objects memoized (by identity) ... */
    Py_ssize_t *seen_at;             /* ... and their memo indexes */
    size_t mask;
} Pickle;

static int pk_index(Buf *b, char short_op, char long_op, Py_ssize_t idx) {
    unsigned char d[5];
    if (idx < 256) {
        d[0] = (unsigned char)short_op;
        d[1] = (unsigned char)idx;
        return buf_put(b, d, 2);
    }
    d[0] = (unsigned char)long_op;
    for (int i = 0; i < 4; i++) d[1 + i] = (unsigned char)(idx >> (8 * i));
    return buf_put(b, d, 5);
}

static int pk_put(Pickle *p) { return pk_index(p->out, 'q', 'r', p->memo++); }     /* BINPUT */
static int pk_get(Pickle *p, Py_ssize_t idx) { return pk_index(p->out, 'h', 'j', idx); }  /* BINGET */

static int pk_int(Buf *b, long v) {       /* v fits in 32 bits, signed: BININT1, BININT2 or BININT */
    unsigned char d[5] = {0, v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff};
    if (d[4] || d[3]) { d[0] = 'J'; return buf_put(b, d, 5); }
    if (d[2]) { d[0] = 'M'; return buf_put(b, d, 3); }
    d[0] = 'K';
    return buf_put(b, d, 2);
}

static int pk_float(Buf *b, double x) {   /* BINFLOAT: the double, big-endian */
    uint64_t bits;
    memcpy(&bits, &x, 8);
    return buf_byte(b, 'G') || buf_be64(b, bits);
}

static Py_ssize_t *pk_seen_slot(Pickle *p, PyObject *obj, int *found) {
    size_t i = ((uintptr_t)obj >> 4) & p->mask;
    while (p->seen[i] && p->seen[i] != obj) i = (i + 1) & p->mask;
    *found = p->seen[i] == obj;
    p->seen[i] = obj;
    return &p->seen_at[i];
}

/* A bytes object as protocol 2 has it: _codecs.encode(its latin-1 text, 'latin1'), reduced.
 * obj: the object (a repeat is a BINGET of its memo entry), NULL for one made here. */
static int pk_bytes(Pickle *p, PyObject *obj, const unsigned char *s, Py_ssize_t n) {
    Py_ssize_t *at = NULL;
    if (obj) {
        int found;
        at = pk_seen_slot(p, obj, &found);
        if (found) return pk_get(p, *at);
    }
    Buf *b = p->out;
    if (p->codecs_at < 0) {
        if (buf_put(b, "c_codecs\nencode\n", 16)) return -1;
        p->codecs_at = p->memo;
        if (pk_put(p)) return -1;
    } else if (pk_get(p, p->codecs_at)) return -1;
    Py_ssize_t utf8 = n;
    for (Py_ssize_t i = 0; i < n; i++) utf8 += s[i] >> 7;
    unsigned char size[5] = {'X'};                     /* BINUNICODE: UTF-8, little-endian size */
    for (int i = 0; i < 4; i++) size[1 + i] = (unsigned char)(utf8 >> (8 * i));
    if (buf_put(b, size, 5)) return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c < 0x80) { if (buf_byte(b, c)) return -1; }
        else if (buf_byte(b, 0xC0 | (c >> 6)) || buf_byte(b, 0x80 | (c & 0x3F))) return -1;
    }
    if (pk_put(p)) return -1;                          /* the text */
    if (p->latin1_at < 0) {
        if (buf_put(b, "X\x06\x00\x00\x00latin1", 11)) return -1;
        p->latin1_at = p->memo;
        if (pk_put(p)) return -1;
    } else if (pk_get(p, p->latin1_at)) return -1;
    if (buf_byte(b, 0x86) || pk_put(p)) return -1;     /* TUPLE2: the arguments */
    if (buf_byte(b, 'R')) return -1;                   /* REDUCE */
    if (at) *at = p->memo;
    return pk_put(p);                                   /* the bytes object */
}

static int pk_tuple_start(Buf *b, Py_ssize_t n) { return n > 3 ? buf_byte(b, '(') : 0; }

static int pk_tuple_end(Pickle *p, Py_ssize_t n) {
    static const unsigned char small[4] = {')', 0x85, 0x86, 0x87};
    if (n == 0) return buf_byte(p->out, ')');          /* EMPTY_TUPLE, never memoized */
    if (buf_byte(p->out, n > 3 ? 't' : small[n])) return -1;
    return pk_put(p);
}

/* ---- whoosh.util.numeric.length_to_byte ---- */
static int length_to_byte(long length) {
    if (length >= LENGTH_CUTOFF) return 255;
    int lo = 0, hi = length_table_size;            /* bisect_left */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (length_table[mid] < length) lo = mid + 1; else hi = mid;
    }
    return lo;
}

static int pack_f(Buf *b, double x) {            /* struct "!f"; -1 with no error: out of range */
    float y = (float)x;
    if (isinf(y) && !isinf(x)) return -1;
    uint32_t bits;
    memcpy(&bits, &y, 4);
    return buf_be32(b, bits) ? -2 : 0;
}

/* The block's weights summed as Python's sum() sums floats. */
static double sum_weights(const float *w, Py_ssize_t n) {
    double total = w[0];
#if PY_VERSION_HEX >= 0x030C0000
    double c = 0.0;                  /* 3.12+: Neumaier's compensated sum, as bltinmodule.c */
    for (Py_ssize_t i = 1; i < n; i++) {
        double x = w[i], t = total + x;
        if (fabs(total) >= fabs(x)) c += (total - t) + x; else c += (x - t) + total;
        total = t;
    }
    if (c && isfinite(c)) total += c;
#else
    for (Py_ssize_t i = 1; i < n; i++) total += w[i];
#endif
    return total;
}

typedef struct {
    long *ids;
    double *weights;
    float *weights32;
    PyObject **values;
    PyObject **seen;
    Py_ssize_t *seen_at;
    unsigned char *joined;
} Scratch;

static void scratch_free(Scratch *s) {
    PyMem_Free(s->ids); PyMem_Free(s->weights); PyMem_Free(s->weights32); PyMem_Free(s->values);
    PyMem_Free(s->seen); PyMem_Free(s->seen_at); PyMem_Free(s->joined);
}

#define UNHANDLED 1      /* not an error: hand the term to the Python reference */

/* Pickles (deltas, weights, values) of postings [at, at + m) into data. */
static int block_data(Buf *data, Scratch *s, Py_ssize_t at, Py_ssize_t m, long fixed_size, size_t mask) {
    Pickle p = {data, 0, -1, -1, s->seen, s->seen_at, mask};
    memset(s->seen, 0, (mask + 1) * sizeof(PyObject *));
    if (buf_put(data, "\x80\x02", 2)) return -1;      /* PROTO 2; a 3-tuple: no MARK, TUPLE3 */
    /* ids: the first, then the gaps */
    if (pk_tuple_start(data, m)) return -1;
    const long *ids = s->ids + at;
    for (Py_ssize_t i = 0; i < m; i++)
        if (pk_int(data, i ? ids[i] - ids[i - 1] : ids[0])) return -1;
    if (pk_tuple_end(&p, m)) return -1;
    /* weights: None if all 1.0, one float if all the same, else each */
    const float *w = s->weights32 + at;
    int same = 1;
    for (Py_ssize_t i = 1; i < m && same; i++) same = w[i] == w[0];
    if (same) {
        if (w[0] == 1.0f ? buf_byte(data, 'N') : pk_float(data, w[0])) return -1;
    } else {
        if (pk_tuple_start(data, m)) return -1;
        for (Py_ssize_t i = 0; i < m; i++) if (pk_float(data, w[i])) return -1;
        if (pk_tuple_end(&p, m)) return -1;
    }
    /* values: the non-empty ones; a tuple (variable size), None (size 0) or joined (fixed size) */
    PyObject **values = s->values + at;
    if (fixed_size == 0) return buf_byte(data, 'N') || buf_byte(data, 0x87) || pk_put(&p) || buf_byte(data, '.');
    Py_ssize_t count = 0, total = 0;
    for (Py_ssize_t i = 0; i < m; i++)
        if (values[i] != Py_None && PyBytes_GET_SIZE(values[i])) { count++; total += PyBytes_GET_SIZE(values[i]); }
    if (fixed_size < 0) {
        if (pk_tuple_start(data, count)) return -1;
        for (Py_ssize_t i = 0; i < m; i++) {
            PyObject *v = values[i];
            if (v != Py_None && PyBytes_GET_SIZE(v) &&
                pk_bytes(&p, v, (const unsigned char *)PyBytes_AS_STRING(v), PyBytes_GET_SIZE(v))) return -1;
        }
        if (pk_tuple_end(&p, count)) return -1;
    } else {
        if (total == 0) return UNHANDLED;              /* b"": pickled as bytes(), not handled here */
        Py_ssize_t k = 0;
        for (Py_ssize_t i = 0; i < m; i++) {
            PyObject *v = values[i];
            if (v != Py_None) {
                memcpy(s->joined + k, PyBytes_AS_STRING(v), PyBytes_GET_SIZE(v));
                k += PyBytes_GET_SIZE(v);
            }
        }
        if (pk_bytes(&p, NULL, s->joined, total)) return -1;
    }
    return buf_byte(data, 0x87) || pk_put(&p) || buf_byte(data, '.');
}

static PyObject *encode_term(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "encode_term(postings, lengths, fixed_size, limit, level, offset)");
        return NULL;
    }
    PyObject *postings = args[0], *lengths = args[1];
    long fixed_size = PyLong_AsLong(args[2]);
    long limit = PyLong_AsLong(args[3]), level = PyLong_AsLong(args[4]);
    long long offset = PyLong_AsLongLong(args[5]);
    if (PyErr_Occurred()) return NULL;
    if (!PyList_CheckExact(postings)) { PyErr_SetString(PyExc_TypeError, "postings must be a list"); return NULL; }
    if (limit < 1) { PyErr_SetString(PyExc_ValueError, "limit must be positive"); return NULL; }
    if (length_table_size < 0) { PyErr_SetString(PyExc_RuntimeError, "set_length_table() was not called"); return NULL; }

    Py_buffer view = {0};
    const int64_t *doc_lengths = NULL;
    Py_ssize_t doc_count = 0;
    if (lengths != Py_None) {
        if (PyObject_GetBuffer(lengths, &view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) return NULL;
        if (view.itemsize != 8 || !view.format || (strcmp(view.format, "q") && strcmp(view.format, "=q")
                                                   && strcmp(view.format, "l"))) {
            PyBuffer_Release(&view);
            PyErr_SetString(PyExc_TypeError, "lengths must be int64 (array('q'))");
            return NULL;
        }
        doc_lengths = view.buf;
        doc_count = view.len / 8;
    }

    PyObject *result = NULL;
    Buf blob = {0}, data = {0}, header = {0}, info = {0};
    Scratch s = {0};
    Py_ssize_t total = PyList_GET_SIZE(postings), n = 0;
    size_t mask = 1;
    while (mask + 1 < 2 * (size_t)(limit < total ? limit : total) + 2) mask = mask * 2 + 1;
    s.ids = PyMem_Malloc(sizeof(long) * (total + 1));
    s.weights = PyMem_Malloc(sizeof(double) * (total + 1));
    s.weights32 = PyMem_Malloc(sizeof(float) * (total + 1));
    s.values = PyMem_Malloc(sizeof(PyObject *) * (total + 1));
    s.seen = PyMem_Malloc(sizeof(PyObject *) * (mask + 1));
    s.seen_at = PyMem_Malloc(sizeof(Py_ssize_t) * (mask + 1));
    if (!s.ids || !s.weights || !s.weights32 || !s.values || !s.seen || !s.seen_at) { PyErr_NoMemory(); goto done; }

    Py_ssize_t longest_join = 0;
    for (Py_ssize_t i = 0; i < total; i++) {
        PyObject *item = PyList_GET_ITEM(postings, i);
        if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 5) goto unhandled;
        PyObject *docnum = PyTuple_GET_ITEM(item, 2), *weight = PyTuple_GET_ITEM(item, 3),
                 *value = PyTuple_GET_ITEM(item, 4);
        if (!PyLong_CheckExact(docnum)) goto unhandled;
        int overflow;
        long id = PyLong_AsLongAndOverflow(docnum, &overflow);
        if (id == -1 && PyErr_Occurred()) goto done;
        if (!overflow && id == SPELLING_DOCNUM) continue;
        if (overflow || id < 0 || id > 0x7fffffffL) goto unhandled;
        if (!PyFloat_CheckExact(weight) || isnan(PyFloat_AS_DOUBLE(weight))) goto unhandled;
        if (value != Py_None && !PyBytes_CheckExact(value)) goto unhandled;
        if (doc_lengths && id >= doc_count) goto unhandled;     /* the reference raises IndexError */
        s.ids[n] = id;
        s.weights[n] = PyFloat_AS_DOUBLE(weight);
        s.weights32[n] = (float)s.weights[n];
        s.values[n] = value;
        if (value != Py_None) longest_join += PyBytes_GET_SIZE(value);
        n++;
    }
    if (n == 0) { result = Py_NewRef(Py_None); goto done; }
    if (fixed_size > 0 && !(s.joined = PyMem_Malloc(longest_join + 1))) { PyErr_NoMemory(); goto done; }

    /* the term info, as W3TermInfo.add_block sums it */
    double info_weight = 0.0, info_max_weight = 0.0;
    long info_min_length = -1, info_max_length = 0;     /* -1: None */
    if (buf_put(&blob, "W3Bl", 4)) goto done;
    for (Py_ssize_t at = 0; at < n; at += limit) {
        Py_ssize_t m = n - at < limit ? n - at : limit;
        const long *ids = s.ids + at;
        double max_weight = s.weights[at];
        for (Py_ssize_t i = 1; i < m; i++) if (s.weights[at + i] > max_weight) max_weight = s.weights[at + i];
        long min_length = -1, max_length = 0;          /* -1: None (no length present) */
        if (doc_lengths) {
            for (Py_ssize_t i = 0; i < m; i++) {
                int64_t length = doc_lengths[ids[i]];
                if (length < 0) goto unhandled;
                if (length) {
                    if (min_length == -1 || length < min_length) min_length = (long)length;
                    if (length > max_length) max_length = (long)length;
                }
            }
        }
        /* a block with no length present after one with some: the reference raises (min(n, None)) */
        if (min_length == -1 && info_min_length != -1) goto unhandled;
        info_weight += sum_weights(s.weights32 + at, m);
        if (min_length != -1) info_min_length = info_min_length == -1 ? min_length
                                                : (min_length < info_min_length ? min_length : info_min_length);
        if (max_length > info_max_length) info_max_length = max_length;
        double block_max = max_weight > 0 ? max_weight : 0.0;   /* max(0, max(weights)) */
        if (block_max > info_max_weight) info_max_weight = block_max;

        data.len = 0;
        int status = block_data(&data, &s, at, m, fixed_size, mask);
        if (status < 0) goto done;
        if (status == UNHANDLED) goto unhandled;
        long compression = data.len >= COMPRESSION_MIN_SIZE ? level : 0;
        PyObject *compressed = NULL;
        const char *payload = data.data;
        Py_ssize_t payload_len = data.len;
        if (compression) {
            compressed = PyObject_CallFunction(zlib_compress, "y#l", data.data, data.len, compression);
            if (!compressed) goto done;
            if (!PyBytes_Check(compressed)) { Py_DECREF(compressed); goto unhandled; }
            payload = PyBytes_AS_STRING(compressed);
            payload_len = PyBytes_GET_SIZE(compressed);
        }
        /* header: (count, last id, max weight, compression, min length byte, max length byte) */
        header.len = 0;
        int bad = buf_put(&header, "\x80\x02(", 3) || pk_int(&header, (long)m) || pk_int(&header, ids[m - 1])
            || (max_weight > 0 ? pk_float(&header, max_weight) : pk_int(&header, 0))
            || pk_int(&header, compression) || pk_int(&header, min_length == -1 ? 0 : length_to_byte(min_length))
            || pk_int(&header, length_to_byte(max_length)) || buf_put(&header, "tq\x00.", 4);
        Py_ssize_t size = header.len + payload_len;
        if (!bad && size > 0x7fffffff) { Py_XDECREF(compressed); goto unhandled; }
        bad = bad || buf_be32(&blob, (uint32_t)(at + limit >= n ? -(int32_t)size : (int32_t)size))
            || buf_put(&blob, header.data, header.len) || buf_put(&blob, payload, payload_len);
        Py_XDECREF(compressed);
        if (bad) goto done;
    }
    if (blob.len > 0x7fffffff) goto unhandled;
    /* W3TermInfo.to_bytes: "!BfIBBfII", then the extent: "!q" offset, "!i" length */
    if (buf_byte(&info, 0)) goto done;
    int packed = pack_f(&info, info_weight);
    if (packed == -2) goto done;
    if (packed == -1) goto unhandled;
    if (buf_be32(&info, (uint32_t)n) || buf_byte(&info, info_min_length == -1 ? 0 : length_to_byte(info_min_length))
        || buf_byte(&info, length_to_byte(info_max_length))) goto done;
    packed = pack_f(&info, info_max_weight);
    if (packed == -2) goto done;
    if (packed == -1) goto unhandled;
    if (buf_be32(&info, (uint32_t)s.ids[0]) || buf_be32(&info, (uint32_t)s.ids[n - 1])
        || buf_be64(&info, (uint64_t)offset) || buf_be32(&info, (uint32_t)blob.len)) goto done;
    result = Py_BuildValue("(y#y#)", blob.data, blob.len, info.data, info.len);
    goto done;

unhandled:
    result = Py_NewRef(Py_NotImplemented);
done:
    scratch_free(&s);
    PyMem_Free(blob.data); PyMem_Free(data.data); PyMem_Free(header.data); PyMem_Free(info.data);
    if (lengths != Py_None) PyBuffer_Release(&view);
    return result;
}

static PyObject *set_length_table(PyObject *module, PyObject *table) {
    PyObject *seq = PySequence_Fast(table, "the length table must be a sequence");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > 256) { Py_DECREF(seq); PyErr_SetString(PyExc_ValueError, "at most 256 lengths"); return NULL; }
    for (Py_ssize_t i = 0; i < n; i++) {
        length_table[i] = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));
        if (length_table[i] == -1 && PyErr_Occurred()) { Py_DECREF(seq); return NULL; }
    }
    Py_DECREF(seq);
    length_table_size = (int)n;
    Py_RETURN_NONE;
}
