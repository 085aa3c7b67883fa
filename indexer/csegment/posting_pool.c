/* A segment's posting pool in C (indexer/postingpool.py's CompiledPostingPool).
 *
 * Whoosh's segment writer adds every posting (field, term, docnum, weight, value) to a pool;
 * past a memory limit the pool spills what it holds, sorted, to a run file; at the end the runs
 * and what is held are merged in (field, term, docnum) order for the field writer. In Python
 * (ChunkedPostingPool) a posting cost ~1.5 us to add and spill (a sort of tuples, pickling) and
 * ~1 us to merge back (unpickling, bisecting, sorting slabs): 15% of a reindex's CPU.
 *
 * Here the postings are grouped by (field, term) as they are added (a hash table of the terms
 * seen, each with a chain of its postings in the order added), so nothing is sorted but the
 * distinct terms at a spill; runs are binary (per term: the field's and the term's UTF-8 bytes,
 * then each posting's docnum, weight and value); the merge is a heap over the runs' cursors and
 * the held postings, and yields tuples. The held postings are yielded as the tuples added (the
 * same objects); postings read back from runs are new objects.
 *
 * Order: a term's postings come in docnum order, as Whoosh's tuple sort gives them; postings
 * of one term with the same docnum (Whoosh adds a term once per document and field, so only
 * a caller's own tuples could) keep the order they were added in, where Whoosh would compare
 * their weights and values.
 *
 * add_field: a positional field's postings made from its tokens and added in one call, for
 * indexer/docwriter.py (what TermPositions.word_values, FieldType.index and Whoosh's
 * add_document loop do per posting in Python).
 *
 * Run format (native byte order: a run is read back by the process that wrote it), per term:
 *   u32 field length, field UTF-8, u32 term length, term bytes, u32 postings, then per posting
 *   i64 docnum, u8 weight kind (0 float, 1 int), 8 bytes (double or i64), i32 value length
 *   (-1: None), value bytes.
 */

/* ---- the buffer of held postings ---- */
typedef struct {
    PyObject *item;       /* the tuple as added (owned) */
    int64_t docnum;
    int32_t next;         /* the term's next posting, -1 at its end */
} Held;

typedef struct {
    PyObject *term;       /* bytes, borrowed from the first posting's tuple */
    Py_hash_t hash;
    int32_t field, head, tail;
} HeldTerm;

typedef struct {
    PyObject_HEAD
    PyObject *fields;      /* list of field names (str); a posting's field is an index in it */
    PyObject *fieldnames;  /* the pool's set of field names, kept up to date */
    PyObject *on_full;     /* called (no arguments) when the held size passes the limit */
    Held *held;
    Py_ssize_t n_held, cap_held;
    HeldTerm *terms;
    Py_ssize_t n_terms, cap_terms;
    int32_t *table;        /* open addressing over terms, -1 empty */
    size_t mask;
    int64_t last_docnum;
    int in_order;          /* no posting came with a smaller docnum than the one before it */
    long long size, limit, posting_bytes;
    int merging;           /* a merge owns the held postings */
} PostingBuffer;

static void buffer_clear(PostingBuffer *b) {
    for (Py_ssize_t i = 0; i < b->n_held; i++) Py_DECREF(b->held[i].item);
    b->n_held = b->n_terms = 0;
    if (b->table) memset(b->table, 0xff, (b->mask + 1) * sizeof(int32_t));
    b->size = 0;
    b->in_order = 1;
    b->last_docnum = INT64_MIN;
}

static int buffer_grow_table(PostingBuffer *b) {
    size_t size = b->table ? (b->mask + 1) * 2 : 1024;
    int32_t *table = PyMem_Malloc(size * sizeof(int32_t));
    if (!table) { PyErr_NoMemory(); return -1; }
    memset(table, 0xff, size * sizeof(int32_t));
    for (Py_ssize_t t = 0; t < b->n_terms; t++) {
        size_t i = ((size_t)b->terms[t].hash ^ (size_t)b->terms[t].field * 0x9E3779B97F4A7C15ULL) & (size - 1);
        while (table[i] >= 0) i = (i + 1) & (size - 1);
        table[i] = (int32_t)t;
    }
    PyMem_Free(b->table);
    b->table = table;
    b->mask = size - 1;
    return 0;
}

static int32_t field_index(PostingBuffer *b, PyObject *name) {
    Py_ssize_t n = PyList_GET_SIZE(b->fields);
    for (Py_ssize_t i = 0; i < n; i++)           /* the writer passes the same str objects */
        if (PyList_GET_ITEM(b->fields, i) == name) return (int32_t)i;
    for (Py_ssize_t i = 0; i < n; i++) {
        int same = PyUnicode_Compare(PyList_GET_ITEM(b->fields, i), name);
        if (same == -1 && PyErr_Occurred()) return -1;
        if (same == 0) return (int32_t)i;
    }
    if (n >= 65535) { PyErr_SetString(PyExc_ValueError, "too many fields"); return -1; }
    if (PyList_Append(b->fields, name) < 0 || PySet_Add(b->fieldnames, name) < 0) return -1;
    return (int32_t)n;
}

static PyObject *buffer_add(PostingBuffer *b, PyObject *item) {
    if (b->merging) { PyErr_SetString(PyExc_RuntimeError, "the pool is being merged"); return NULL; }
    if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 5) {
        PyErr_SetString(PyExc_TypeError, "a posting is a (field, term, docnum, weight, value) tuple");
        return NULL;
    }
    PyObject *field = PyTuple_GET_ITEM(item, 0), *term = PyTuple_GET_ITEM(item, 1),
             *docnum_obj = PyTuple_GET_ITEM(item, 2), *weight = PyTuple_GET_ITEM(item, 3),
             *value = PyTuple_GET_ITEM(item, 4);
    if (!PyUnicode_CheckExact(field) || !PyBytes_CheckExact(term) || !PyLong_CheckExact(docnum_obj)
        || !(PyFloat_CheckExact(weight) || PyLong_CheckExact(weight))
        || !(value == Py_None || PyBytes_CheckExact(value))) {
        PyErr_Format(PyExc_TypeError, "posting %R: expected (str, bytes, int, float or int, bytes or None)", item);
        return NULL;
    }
    int64_t docnum = PyLong_AsLongLong(docnum_obj);
    if (docnum == -1 && PyErr_Occurred()) return NULL;
    if (PyLong_CheckExact(weight)) {
        PyLong_AsLongLong(weight);
        if (PyErr_Occurred()) return NULL;
    }
    int32_t f = field_index(b, field);
    if (f < 0) return NULL;
    Py_hash_t hash = PyObject_Hash(term);
    if (hash == -1) return NULL;
    if ((size_t)(b->n_terms + 1) * 2 > (b->table ? b->mask + 1 : 0) && buffer_grow_table(b) < 0) return NULL;
    if (b->n_held + 1 > b->cap_held) {
        Py_ssize_t cap = b->cap_held ? b->cap_held * 2 : 65536;
        Held *held = PyMem_Realloc(b->held, cap * sizeof(Held));
        if (!held) return PyErr_NoMemory();
        b->held = held;
        b->cap_held = cap;
    }
    if (b->n_held >= INT32_MAX) { PyErr_SetString(PyExc_OverflowError, "too many postings held"); return NULL; }
    Py_ssize_t term_len = PyBytes_GET_SIZE(term);
    const char *term_data = PyBytes_AS_STRING(term);
    size_t i = ((size_t)hash ^ (size_t)f * 0x9E3779B97F4A7C15ULL) & b->mask;
    int32_t t;
    while ((t = b->table[i]) >= 0) {
        HeldTerm *h = &b->terms[t];
        if (h->hash == hash && h->field == f && PyBytes_GET_SIZE(h->term) == term_len
            && memcmp(PyBytes_AS_STRING(h->term), term_data, term_len) == 0) break;
        i = (i + 1) & b->mask;
    }
    int32_t at = (int32_t)b->n_held;
    if (t < 0) {
        if (b->n_terms + 1 > b->cap_terms) {
            Py_ssize_t cap = b->cap_terms ? b->cap_terms * 2 : 16384;
            HeldTerm *terms = PyMem_Realloc(b->terms, cap * sizeof(HeldTerm));
            if (!terms) return PyErr_NoMemory();
            b->terms = terms;
            b->cap_terms = cap;
        }
        t = (int32_t)b->n_terms++;
        b->terms[t] = (HeldTerm){term, hash, f, at, at};
        b->table[i] = t;
    } else {
        b->held[b->terms[t].tail].next = at;
        b->terms[t].tail = at;
    }
    Py_INCREF(item);
    b->held[at] = (Held){item, docnum, -1};
    b->n_held++;
    if (docnum < b->last_docnum) b->in_order = 0;
    b->last_docnum = docnum;
    /* Whoosh's estimate of a posting's memory, as ChunkedPostingPool counts it */
    b->size += b->posting_bytes + PyUnicode_GET_LENGTH(field) + 2 * term_len
               + (value == Py_None ? 0 : PyBytes_GET_SIZE(value));
    if (b->size > b->limit) {
        PyObject *done = PyObject_CallNoArgs(b->on_full);
        if (!done) return NULL;
        Py_DECREF(done);
    }
    Py_RETURN_NONE;
}

/* ---- a document field's postings, made from its tokens and added ---- */

/* Positions.encode as indexer/positions.py's encode_positions writes it: "!I" count, then the
 * pickled list (protocol 2) of the first position and the gaps. 0 with the code in b; 1 if a
 * position is not an int or a gap does not fit 32 bits (the Python function encodes it). */
static int encode_positions_into(Buf *b, PyObject *positions) {
    Py_ssize_t n = PyList_GET_SIZE(positions);
    if (n > 0xffffffffL) return 1;
    if (buf_be32(b, (uint32_t)n) || buf_put(b, "\x80\x02]q\x00", 5)) return -1;
    long previous = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(positions, i);
        if (!PyLong_CheckExact(item)) return 1;
        int overflow;
        long pos = PyLong_AsLongAndOverflow(item, &overflow);
        if (overflow || pos < -0x80000000L || pos > 0x7fffffffL) return 1;
        long gap = i ? pos - previous : pos;
        if (gap < -0x80000000L || gap > 0x7fffffffL) return 1;
        previous = pos;
        if (n > 1 && i % 1000 == 0 && buf_byte(b, '(')) return -1;          /* MARK per batch */
        if (pk_int(b, gap)) return -1;
        if (n > 1 && (i % 1000 == 999 || i == n - 1) && buf_byte(b, 'e')) return -1;   /* APPENDS */
    }
    if (n == 1 && buf_byte(b, 'a')) return -1;                                 /* APPEND */
    return buf_byte(b, '.');
}

static PyObject *s_stopped, *s_startchar, *s_endchar, *s_text, *s_pos, *s_boost, *float_zero;

static PyObject *buffer_add(PostingBuffer *b, PyObject *item);

/* add_field(field, docnum, tokens, format_boost, field_boost, once, once_max, encode_positions,
 *           starts, ends) -> the field's length (the sum of its terms' frequencies)
 * What Whoosh's SegmentWriter.add_document does with a field whose format is TermPositions
 * (indexer/positions.py), in C: the unstopped tokens' positions and boosts gathered per term
 * (their character spans appended to starts and ends, lists or None), then per term in the
 * order first seen, (field, term as UTF-8, docnum, weight * format_boost * field_boost, encoded
 * positions) added to the pool. A term found once at a position in [0, once_max) takes its
 * encoding from the dict `once`, shared with the Python code; positions this code does not
 * encode go to encode_positions. The weights are Python's arithmetic on Python numbers. */
static PyObject *buffer_add_field(PostingBuffer *b, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 10) {
        PyErr_SetString(PyExc_TypeError, "add_field(field, docnum, tokens, format_boost, field_boost, "
                                         "once, once_max, encode_positions, starts, ends)");
        return NULL;
    }
    PyObject *field = args[0], *docnum = args[1], *format_boost = args[3], *field_boost = args[4],
             *once = args[5], *fallback = args[7], *starts = args[8], *ends = args[9];
    long once_max = PyLong_AsLong(args[6]);
    if (once_max == -1 && PyErr_Occurred()) return NULL;
    if (!PyDict_CheckExact(once)) { PyErr_SetString(PyExc_TypeError, "once must be a dict"); return NULL; }
    if (starts != Py_None && (!PyList_Check(starts) || !PyList_Check(ends))) {
        PyErr_SetString(PyExc_TypeError, "starts and ends must be lists or None");
        return NULL;
    }
    PyObject *iter = PyObject_GetIter(args[2]);
    if (!iter) return NULL;
    /* weights: each term's sum of boosts, kept only once a boost other than 1.0 came; until then
     * (nearly always) a term's sum is its count of positions, exactly as Python's sum of 1.0s. */
    PyObject *positions = PyDict_New(), *weights = NULL, *token, *result = NULL;
    Buf code = {0};
    long long length = 0;
    if (!positions) goto done;
    while ((token = PyIter_Next(iter))) {
        PyObject *stopped = PyObject_GetAttr(token, s_stopped);
        int skip = stopped ? PyObject_IsTrue(stopped) : -1;
        Py_XDECREF(stopped);
        if (skip) { Py_DECREF(token); if (skip < 0) goto done; continue; }
        if (starts != Py_None) {
            PyObject *a = PyObject_GetAttr(token, s_startchar), *z = a ? PyObject_GetAttr(token, s_endchar) : NULL;
            int bad = !z || PyList_Append(starts, a) || PyList_Append(ends, z);
            Py_XDECREF(a); Py_XDECREF(z);
            if (bad) { Py_DECREF(token); goto done; }
        }
        PyObject *text = PyObject_GetAttr(token, s_text);
        PyObject *pos = text ? PyObject_GetAttr(token, s_pos) : NULL;
        PyObject *boost = pos ? PyObject_GetAttr(token, s_boost) : NULL;
        Py_DECREF(token);
        int bad = !boost;
        if (!bad && !weights && !(PyFloat_CheckExact(boost) && PyFloat_AS_DOUBLE(boost) == 1.0)) {
            /* the first other boost: every sum so far as a float, then Python's sums from here */
            Py_ssize_t at = 0;
            PyObject *seen, *list;
            bad = !(weights = PyDict_New());
            while (!bad && PyDict_Next(positions, &at, &seen, &list)) {
                PyObject *sum = PyFloat_FromDouble((double)PyList_GET_SIZE(list));
                bad = !sum || PyDict_SetItem(weights, seen, sum) < 0;
                Py_XDECREF(sum);
            }
        }
        if (!bad) {
            PyObject *found = PyDict_GetItemWithError(positions, text), *weight = NULL;
            if (found) {
                bad = PyList_Append(found, pos) < 0;
                if (!bad && weights) {
                    PyObject *sum = PyDict_GetItemWithError(weights, text);
                    weight = sum ? PyNumber_InPlaceAdd(sum, boost) : NULL;     /* weights[text] += boost */
                    bad = !weight;
                }
            } else if (PyErr_Occurred()) {
                bad = 1;
            } else {
                PyObject *list = PyList_New(1);
                if (list) { Py_INCREF(pos); PyList_SET_ITEM(list, 0, pos); }
                bad = !list || PyDict_SetItem(positions, text, list) < 0;
                Py_XDECREF(list);
                if (!bad && weights) {
                    weight = PyNumber_Add(float_zero, boost);                /* 0.0 + boost */
                    bad = !weight;
                }
            }
            if (!bad && weight) bad = PyDict_SetItem(weights, text, weight) < 0;
            Py_XDECREF(weight);
        }
        Py_XDECREF(text); Py_XDECREF(pos); Py_XDECREF(boost);
        if (bad) goto done;
    }
    if (PyErr_Occurred()) goto done;
    /* (sum * format_boost) * field_boost, as word_values and add_document compute it: in doubles
     * when both boosts are floats (the same IEEE products as Python's), else Python's numbers */
    int float_boosts = PyFloat_CheckExact(format_boost) && PyFloat_CheckExact(field_boost);
    double format_b = float_boosts ? PyFloat_AS_DOUBLE(format_boost) : 0, field_b = float_boosts ? PyFloat_AS_DOUBLE(field_boost) : 0;
    Py_ssize_t at = 0;
    PyObject *text, *found;
    while (PyDict_Next(positions, &at, &text, &found)) {
        Py_ssize_t n = PyList_GET_SIZE(found);
        PyObject *weight = NULL;
        if (!weights && float_boosts) {
            weight = PyFloat_FromDouble(((double)n * format_b) * field_b);
        } else {
            PyObject *sum = weights ? PyDict_GetItemWithError(weights, text) : PyFloat_FromDouble((double)n);
            PyObject *scaled = sum ? PyNumber_Multiply(sum, format_boost) : NULL;        /* word_values */
            if (!weights) Py_XDECREF(sum);
            weight = scaled ? PyNumber_InPlaceMultiply(scaled, field_boost) : NULL;  /* add_document */
            Py_XDECREF(scaled);
        }
        PyObject *value = NULL, *key = NULL;
        if (weight && n == 1) {               /* the shared encoding of a term found once */
            PyObject *first = PyList_GET_ITEM(found, 0);
            int overflow = 1;
            long pos = PyLong_CheckExact(first) ? PyLong_AsLongAndOverflow(first, &overflow) : -1;
            if (!overflow && pos >= 0 && pos < once_max) {
                key = first;
                value = PyDict_GetItemWithError(once, key);
                Py_XINCREF(value);
            }
        }
        if (weight && !value && !PyErr_Occurred()) {
            code.len = 0;
            int status = encode_positions_into(&code, found);
            if (status == 0) value = PyBytes_FromStringAndSize(code.data, code.len);
            else if (status == 1) value = PyObject_CallOneArg(fallback, found);
            if (value && key && PyDict_SetItem(once, key, value) < 0) Py_CLEAR(value);
        }
        PyObject *term = value ? PyUnicode_AsUTF8String(text) : NULL;
        PyObject *item = term ? PyTuple_Pack(5, field, term, docnum, weight, value) : NULL;
        Py_XDECREF(term); Py_XDECREF(weight); Py_XDECREF(value);
        PyObject *added = item ? buffer_add(b, item) : NULL;
        Py_XDECREF(item);
        if (!added) goto done;
        Py_DECREF(added);
        length += n;
    }
    result = PyLong_FromLongLong(length);
done:
    Py_DECREF(iter);
    Py_XDECREF(positions); Py_XDECREF(weights);
    PyMem_Free(code.data);
    if (PyErr_Occurred()) Py_CLEAR(result);
    return result;
}

/* ---- the held terms in Whoosh's order ---- */
static PostingBuffer *sorting;       /* qsort's context (the GIL is held throughout) */
static Py_ssize_t *field_rank;

static int compare_terms(const void *a, const void *b) {
    const HeldTerm *x = &sorting->terms[*(const int32_t *)a], *y = &sorting->terms[*(const int32_t *)b];
    if (x->field != y->field) return field_rank[x->field] < field_rank[y->field] ? -1 : 1;
    Py_ssize_t lx = PyBytes_GET_SIZE(x->term), ly = PyBytes_GET_SIZE(y->term);
    int c = memcmp(PyBytes_AS_STRING(x->term), PyBytes_AS_STRING(y->term), lx < ly ? lx : ly);
    return c ? c : (lx < ly ? -1 : lx > ly);
}

/* tuple order (a term's postings: docnum, weight, value), as ChunkedPostingPool sorts postings
 * that did not come in docnum order; then the order added. */
static int compare_held(const void *a, const void *b) {
    const Held *x = &sorting->held[*(const int32_t *)a], *y = &sorting->held[*(const int32_t *)b];
    if (x->docnum != y->docnum) return x->docnum < y->docnum ? -1 : 1;
    for (int op = Py_LT; ; op = Py_GT) {               /* a tie on docnum: compare the tuples */
        int c = PyObject_RichCompareBool(x->item, y->item, op);
        if (c < 0) { PyErr_Clear(); break; }             /* not comparable (None and bytes) */
        if (c) return op == Py_LT ? -1 : 1;
        if (op == Py_GT) break;
    }
    return *(const int32_t *)a < *(const int32_t *)b ? -1 : 1;
}

/* The held terms' indexes in (field name, term) order; with their postings relinked in docnum
 * order if they were not added in it. NULL with an error set. */
static int32_t *sorted_terms(PostingBuffer *b) {
    Py_ssize_t nf = PyList_GET_SIZE(b->fields);
    int32_t *order = PyMem_Malloc((b->n_terms + 1) * sizeof(int32_t));
    Py_ssize_t *rank = PyMem_Malloc((nf + 1) * sizeof(Py_ssize_t));
    if (!order || !rank) { PyMem_Free(order); PyMem_Free(rank); PyErr_NoMemory(); return NULL; }
    for (Py_ssize_t i = 0; i < nf; i++) {           /* str order: a field's rank among the names */
        rank[i] = 0;
        for (Py_ssize_t j = 0; j < nf; j++) {
            int c = PyUnicode_Compare(PyList_GET_ITEM(b->fields, j), PyList_GET_ITEM(b->fields, i));
            if (c == -1 && PyErr_Occurred()) { PyMem_Free(order); PyMem_Free(rank); return NULL; }
            rank[i] += c < 0;
        }
    }
    for (Py_ssize_t t = 0; t < b->n_terms; t++) order[t] = (int32_t)t;
    sorting = b;
    field_rank = rank;
    qsort(order, b->n_terms, sizeof(int32_t), compare_terms);
    if (!b->in_order) {
        int32_t *chain = PyMem_Malloc((b->n_held + 1) * sizeof(int32_t));
        if (!chain) { PyMem_Free(order); PyMem_Free(rank); PyErr_NoMemory(); return NULL; }
        for (Py_ssize_t t = 0; t < b->n_terms; t++) {
            Py_ssize_t n = 0;
            for (int32_t p = b->terms[t].head; p >= 0; p = b->held[p].next) chain[n++] = p;
            qsort(chain, n, sizeof(int32_t), compare_held);
            for (Py_ssize_t k = 0; k < n; k++) b->held[chain[k]].next = k + 1 < n ? chain[k + 1] : -1;
            b->terms[t].head = chain[0];
            b->terms[t].tail = chain[n - 1];
        }
        PyMem_Free(chain);
    }
    PyMem_Free(rank);
    return order;
}

/* ---- spilling a run ---- */
static int flush_to(Buf *out, PyObject *file) {
    if (!out->len) return 0;
    PyObject *chunk = PyBytes_FromStringAndSize(out->data, out->len);
    PyObject *done = chunk ? PyObject_CallMethod(file, "write", "O", chunk) : NULL;
    Py_XDECREF(chunk);
    if (!done) return -1;
    Py_DECREF(done);
    out->len = 0;
    return 0;
}

static int put_u32(Buf *b, uint32_t v) { return buf_put(b, &v, 4); }

static PyObject *buffer_spill(PostingBuffer *b, PyObject *file) {
    if (b->merging) { PyErr_SetString(PyExc_RuntimeError, "the pool is being merged"); return NULL; }
    int32_t *order = sorted_terms(b);
    if (!order) return NULL;
    Buf out = {0};
    int bad = 0;
    for (Py_ssize_t k = 0; k < b->n_terms && !bad; k++) {
        HeldTerm *h = &b->terms[order[k]];
        Py_ssize_t field_len;
        const char *field = PyUnicode_AsUTF8AndSize(PyList_GET_ITEM(b->fields, h->field), &field_len);
        if (!field) { bad = 1; break; }
        uint32_t count = 0;
        for (int32_t p = h->head; p >= 0; p = b->held[p].next) count++;
        bad = put_u32(&out, (uint32_t)field_len) || buf_put(&out, field, field_len)
              || put_u32(&out, (uint32_t)PyBytes_GET_SIZE(h->term))
              || buf_put(&out, PyBytes_AS_STRING(h->term), PyBytes_GET_SIZE(h->term)) || put_u32(&out, count);
        for (int32_t p = h->head; p >= 0 && !bad; p = b->held[p].next) {
            PyObject *weight = PyTuple_GET_ITEM(b->held[p].item, 3), *value = PyTuple_GET_ITEM(b->held[p].item, 4);
            unsigned char kind = PyFloat_CheckExact(weight) ? 0 : 1;
            union { double d; int64_t i; } w;
            if (kind == 0) w.d = PyFloat_AS_DOUBLE(weight); else w.i = PyLong_AsLongLong(weight);
            int32_t value_len = value == Py_None ? -1 : (int32_t)PyBytes_GET_SIZE(value);
            bad = buf_put(&out, &b->held[p].docnum, 8) || buf_put(&out, &kind, 1) || buf_put(&out, &w, 8)
                  || buf_put(&out, &value_len, 4)
                  || (value_len > 0 && buf_put(&out, PyBytes_AS_STRING(value), value_len));
        }
        if (!bad && out.len > (1 << 20)) bad = flush_to(&out, file) < 0;
    }
    if (!bad) bad = flush_to(&out, file) < 0;
    PyMem_Free(out.data);
    PyMem_Free(order);
    if (bad) return NULL;
    buffer_clear(b);
    Py_RETURN_NONE;
}

/* ---- merging: a cursor per run and one over the held postings ---- */
typedef struct {
    PyObject *file;       /* NULL: the held postings */
    Buf buf;              /* a run's bytes read and not yet used, from pos */
    Py_ssize_t pos;
    int eof;
    PyObject *field, *term;      /* the current term group (owned) */
    uint32_t left;               /* its postings not yet read, after the current one */
    int64_t docnum;              /* the current posting */
    unsigned char kind;
    union { double d; int64_t i; } weight;
    int32_t value_len;
    Py_ssize_t value_at;         /* in buf */
    int32_t term_index, held;    /* the held cursor: position in order[], current posting */
    int done;
} Cursor;

typedef struct {
    PyObject_HEAD
    PostingBuffer *buffer;       /* owned */
    PyObject *on_done;
    PyObject *names;             /* dict: field name -> the str object used for it */
    Cursor *cursors;
    Py_ssize_t n;
    Py_ssize_t *heap, heap_n;
    int32_t *order;              /* the held terms, sorted */
} Merge;

static int cursor_need(Cursor *c, Py_ssize_t n) {        /* n bytes at pos; 0, 1 at the end, -1 error */
    while (c->buf.len - c->pos < n) {
        if (c->eof) return 1;
        if (c->pos) {
            memmove(c->buf.data, c->buf.data + c->pos, c->buf.len - c->pos);
            c->buf.len -= c->pos;
            c->pos = 0;
        }
        PyObject *chunk = PyObject_CallMethod(c->file, "read", "n", (Py_ssize_t)(n > (1 << 18) ? n : (1 << 18)));
        if (!chunk) return -1;
        if (!PyBytes_Check(chunk)) { Py_DECREF(chunk); PyErr_SetString(PyExc_TypeError, "a run read not bytes"); return -1; }
        if (PyBytes_GET_SIZE(chunk) == 0) c->eof = 1;
        int bad = buf_put(&c->buf, PyBytes_AS_STRING(chunk), PyBytes_GET_SIZE(chunk));
        Py_DECREF(chunk);
        if (bad) return -1;
    }
    return 0;
}

static int truncated(void) { PyErr_SetString(PyExc_ValueError, "a posting run ended inside a record"); return -1; }

static int cursor_read_posting(Cursor *c) {
    int need = cursor_need(c, 21);
    if (need) return need < 0 ? -1 : truncated();
    const char *p = c->buf.data + c->pos;
    memcpy(&c->docnum, p, 8);
    c->kind = (unsigned char)p[8];
    memcpy(&c->weight, p + 9, 8);
    memcpy(&c->value_len, p + 17, 4);
    c->pos += 21;
    if (c->value_len > 0) {
        need = cursor_need(c, c->value_len);
        if (need) return need < 0 ? -1 : truncated();
        c->value_at = c->pos;
        c->pos += c->value_len;
    }
    return 0;
}

static PyObject *field_name(Merge *m, const char *s, Py_ssize_t n) {     /* new reference */
    PyObject *name = PyUnicode_DecodeUTF8(s, n, "strict");
    if (!name) return NULL;
    PyObject *known = PyDict_SetDefault(m->names, name, name);
    Py_XINCREF(known);
    Py_DECREF(name);
    return known;
}

/* Moves a cursor to its next posting: 0, or 1 when it has none left, -1 on an error. */
static int cursor_advance(Merge *m, Cursor *c) {
    if (!c->file) {
        PostingBuffer *b = m->buffer;
        if (c->held >= 0) c->held = b->held[c->held].next;
        while (c->held < 0) {
            if (++c->term_index >= b->n_terms) return 1;
            HeldTerm *h = &b->terms[m->order[c->term_index]];
            c->held = h->head;
            Py_XSETREF(c->field, Py_NewRef(PyList_GET_ITEM(b->fields, h->field)));
            Py_XSETREF(c->term, Py_NewRef(h->term));
        }
        c->docnum = b->held[c->held].docnum;
        return 0;
    }
    if (c->left == 0) {                                  /* the next term group */
        int need = cursor_need(c, 4);
        if (need) return need < 0 ? -1 : (c->buf.len == c->pos ? 1 : truncated());
        uint32_t len;
        memcpy(&len, c->buf.data + c->pos, 4);
        if ((need = cursor_need(c, 4 + (Py_ssize_t)len + 4))) return need < 0 ? -1 : truncated();
        PyObject *field = field_name(m, c->buf.data + c->pos + 4, len);
        if (!field) return -1;
        Py_XSETREF(c->field, field);
        c->pos += 4 + len;
        memcpy(&len, c->buf.data + c->pos, 4);
        if ((need = cursor_need(c, 4 + (Py_ssize_t)len + 4))) return need < 0 ? -1 : truncated();
        PyObject *term = PyBytes_FromStringAndSize(c->buf.data + c->pos + 4, len);
        if (!term) return -1;
        Py_XSETREF(c->term, term);
        c->pos += 4 + len;
        memcpy(&c->left, c->buf.data + c->pos, 4);
        c->pos += 4;
        if (c->left == 0) return truncated();
    }
    c->left--;
    return cursor_read_posting(c);
}

static int bytes_compare(PyObject *x, PyObject *y) {
    if (x == y) return 0;
    Py_ssize_t lx = PyBytes_GET_SIZE(x), ly = PyBytes_GET_SIZE(y);
    int c = memcmp(PyBytes_AS_STRING(x), PyBytes_AS_STRING(y), lx < ly ? lx : ly);
    return c ? c : (lx < ly ? -1 : lx > ly);
}

static PyObject *cursor_item(Merge *m, Cursor *c);

/* x before y in (field, term, docnum) order; a tie on those (a caller's own postings): tuple
 * order, as ChunkedPostingPool's merge sorts them, then the earlier cursor (runs in the order
 * written, the held postings last). */
static int cursor_before(Merge *m, Py_ssize_t ix, Py_ssize_t iy) {
    Cursor *x = &m->cursors[ix], *y = &m->cursors[iy];
    if (x->field != y->field) {
        int c = PyUnicode_Compare(x->field, y->field);
        if (c == -1 && PyErr_Occurred()) PyErr_Clear();
        else if (c) return c < 0;
    }
    int c = bytes_compare(x->term, y->term);
    if (c) return c < 0;
    if (x->docnum != y->docnum) return x->docnum < y->docnum;
    PyObject *a = cursor_item(m, x), *b = a ? cursor_item(m, y) : NULL;
    int lt = b ? PyObject_RichCompareBool(a, b, Py_LT) : -1, gt = lt == 0 ? PyObject_RichCompareBool(a, b, Py_GT) : 0;
    Py_XDECREF(a); Py_XDECREF(b);
    if (lt < 0 || gt < 0) { PyErr_Clear(); return ix < iy; }
    return lt ? 1 : gt ? 0 : ix < iy;
}

static void heap_down(Merge *m, Py_ssize_t at) {
    Py_ssize_t *h = m->heap, n = m->heap_n;
    for (;;) {
        Py_ssize_t l = 2 * at + 1, r = l + 1, s = at;
        if (l < n && cursor_before(m, h[l], h[s])) s = l;
        if (r < n && cursor_before(m, h[r], h[s])) s = r;
        if (s == at) return;
        Py_ssize_t t = h[s]; h[s] = h[at]; h[at] = t;
        at = s;
    }
}

static void merge_close_files(Merge *m) {
    for (Py_ssize_t i = 0; i < m->n; i++) {
        Cursor *c = &m->cursors[i];
        if (c->file && !c->done) {
            PyObject *done = PyObject_CallMethod(c->file, "close", NULL);
            if (done) Py_DECREF(done); else PyErr_Clear();
            c->done = 1;
        }
    }
}

/* The cursor's current posting as a tuple (new reference): the held ones as they were added. */
static PyObject *cursor_item(Merge *m, Cursor *c) {
    if (!c->file) return Py_NewRef(m->buffer->held[c->held].item);
    PyObject *docnum = PyLong_FromLongLong(c->docnum);
    PyObject *weight = c->kind == 0 ? PyFloat_FromDouble(c->weight.d) : PyLong_FromLongLong(c->weight.i);
    PyObject *value = c->value_len < 0 ? Py_NewRef(Py_None)
                      : PyBytes_FromStringAndSize(c->value_len ? c->buf.data + c->value_at : "", c->value_len);
    PyObject *item = docnum && weight && value ? PyTuple_Pack(5, c->field, c->term, docnum, weight, value) : NULL;
    Py_XDECREF(docnum); Py_XDECREF(weight); Py_XDECREF(value);
    return item;
}

static PyObject *merge_next(Merge *m) {
    if (m->heap_n == 0) return NULL;
    Cursor *c = &m->cursors[m->heap[0]];
    PyObject *item = cursor_item(m, c);
    if (!item) return NULL;
    int status = cursor_advance(m, c);
    if (status < 0) { Py_DECREF(item); return NULL; }
    if (status == 1) {                                   /* this cursor is done */
        m->heap[0] = m->heap[--m->heap_n];
    }
    if (m->heap_n) heap_down(m, 0);
    if (m->heap_n == 0) {                                /* all merged: give the pool its runs back */
        merge_close_files(m);
        buffer_clear(m->buffer);
        m->buffer->merging = 0;
        if (m->on_done != Py_None) {
            PyObject *done = PyObject_CallNoArgs(m->on_done);
            if (!done) { Py_DECREF(item); return NULL; }
            Py_DECREF(done);
        }
    }
    return item;
}

static void merge_dealloc(Merge *m) {
    merge_close_files(m);
    if (m->cursors) {
        for (Py_ssize_t i = 0; i < m->n; i++) {
            Py_XDECREF(m->cursors[i].file); Py_XDECREF(m->cursors[i].field); Py_XDECREF(m->cursors[i].term);
            PyMem_Free(m->cursors[i].buf.data);
        }
    }
    if (m->buffer) m->buffer->merging = 0;
    PyMem_Free(m->cursors); PyMem_Free(m->heap); PyMem_Free(m->order);
    Py_XDECREF(m->buffer); Py_XDECREF(m->on_done); Py_XDECREF(m->names);
    Py_TYPE(m)->tp_free((PyObject *)m);
}

static PyTypeObject MergeType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "csegment.Merge",
    .tp_basicsize = sizeof(Merge),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)merge_dealloc,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)merge_next,
    .tp_doc = "The pool's postings in (field, term, docnum) order: its runs' and what it holds.",
};

/* merge(run files, on_done) -> an iterator of every posting; on_done() once it is exhausted */
static PyObject *buffer_merge(PostingBuffer *b, PyObject *args) {
    PyObject *files, *on_done;
    if (!PyArg_ParseTuple(args, "OO", &files, &on_done)) return NULL;
    if (b->merging) { PyErr_SetString(PyExc_RuntimeError, "the pool is being merged"); return NULL; }
    PyObject *seq = PySequence_Fast(files, "merge() takes a sequence of run files");
    if (!seq) return NULL;
    Merge *m = PyObject_New(Merge, &MergeType);
    if (!m) { Py_DECREF(seq); return NULL; }
    m->buffer = (PostingBuffer *)Py_NewRef(b);
    m->on_done = Py_NewRef(on_done);
    m->names = PyDict_New();
    m->n = PySequence_Fast_GET_SIZE(seq) + 1;
    m->heap_n = 0;
    m->cursors = PyMem_Calloc(m->n, sizeof(Cursor));
    m->heap = PyMem_Malloc(m->n * sizeof(Py_ssize_t));
    m->order = NULL;
    b->merging = 1;
    if (!m->names || !m->cursors || !m->heap) {
        int no_memory = m->names != NULL;
        if (m->cursors == NULL) m->n = 0;
        Py_DECREF(seq); Py_DECREF(m);
        return no_memory ? PyErr_NoMemory() : NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(b->fields); i++) {   /* runs' names: the same objects */
        PyObject *name = PyList_GET_ITEM(b->fields, i);
        if (!PyDict_SetDefault(m->names, name, name)) { Py_DECREF(seq); Py_DECREF(m); return NULL; }
    }
    for (Py_ssize_t i = 0; i + 1 < m->n; i++) {
        m->cursors[i].file = Py_NewRef(PySequence_Fast_GET_ITEM(seq, i));
        m->cursors[i].held = -1;
    }
    Py_DECREF(seq);
    Cursor *held = &m->cursors[m->n - 1];          /* the held postings, last: added after every run */
    held->held = -1;
    held->term_index = -1;
    if (!(m->order = sorted_terms(b))) { Py_DECREF(m); return NULL; }
    for (Py_ssize_t i = 0; i < m->n; i++) {
        int status = cursor_advance(m, &m->cursors[i]);
        if (status < 0) { Py_DECREF(m); return NULL; }
        if (status == 0) m->heap[m->heap_n++] = i;
    }
    for (Py_ssize_t i = m->heap_n / 2; i >= 0; i--) heap_down(m, i);
    if (m->heap_n == 0) {                          /* nothing at all */
        merge_close_files(m);
        buffer_clear(b);
        b->merging = 0;
        if (on_done != Py_None) {
            PyObject *done = PyObject_CallNoArgs(on_done);
            if (!done) { Py_DECREF(m); return NULL; }
            Py_DECREF(done);
        }
    }
    return (PyObject *)m;
}

static Py_ssize_t buffer_len(PostingBuffer *b) { return b->n_held; }

static int buffer_init(PostingBuffer *b, PyObject *args, PyObject *kwargs) {
    PyObject *fieldnames, *on_full;
    long long limit, posting_bytes;
    static char *names[] = {"limit", "posting_bytes", "fieldnames", "on_full", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "LLOO", names, &limit, &posting_bytes, &fieldnames, &on_full))
        return -1;
    if (!PySet_Check(fieldnames)) { PyErr_SetString(PyExc_TypeError, "fieldnames must be a set"); return -1; }
    Py_XSETREF(b->fieldnames, Py_NewRef(fieldnames));
    Py_XSETREF(b->on_full, Py_NewRef(on_full));
    if (!b->fields && !(b->fields = PyList_New(0))) return -1;
    b->limit = limit;
    b->posting_bytes = posting_bytes;
    buffer_clear(b);
    return 0;
}

static void buffer_dealloc(PostingBuffer *b) {
    buffer_clear(b);
    PyMem_Free(b->held); PyMem_Free(b->terms); PyMem_Free(b->table);
    Py_XDECREF(b->fields); Py_XDECREF(b->fieldnames); Py_XDECREF(b->on_full);
    Py_TYPE(b)->tp_free((PyObject *)b);
}

static PyMethodDef buffer_methods[] = {
    {"add", (PyCFunction)buffer_add, METH_O, "add((field, term, docnum, weight, value))"},
    {"add_field", (PyCFunction)(void (*)(void))buffer_add_field, METH_FASTCALL,
     "add_field(field, docnum, tokens, format_boost, field_boost, once, once_max, encode_positions, starts, ends) -> length"},
    {"spill", (PyCFunction)buffer_spill, METH_O, "spill(file): write what is held as a run, sorted; hold nothing"},
    {"merge", (PyCFunction)buffer_merge, METH_VARARGS, "merge(run files, on_done) -> every posting, sorted"},
    {NULL, NULL, 0, NULL}
};

static PyMemberDef buffer_members[] = {
    {"limit", T_LONGLONG, offsetof(PostingBuffer, limit), 0, "the held size (Whoosh's estimate) that spills"},
    {NULL, 0, 0, 0, NULL}
};

static PySequenceMethods buffer_as_sequence = {.sq_length = (lenfunc)buffer_len};

static PyTypeObject PostingBufferType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "csegment.PostingBuffer",
    .tp_basicsize = sizeof(PostingBuffer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)buffer_init,
    .tp_dealloc = (destructor)buffer_dealloc,
    .tp_methods = buffer_methods,
    .tp_members = buffer_members,
    .tp_as_sequence = &buffer_as_sequence,
    .tp_doc = "PostingBuffer(limit, posting_bytes, fieldnames, on_full): a segment's postings, "
              "grouped by term as added, spilled and merged in Whoosh's order.",
};
