/* The C kernels of a dense query (indexer/quantized): scores of int8 rows against an int16
 * query, out[r] = scale[r] * sum_i codes[r][i] * query[i]; the largest score of each group of
 * consecutive rows (an article's passages), with the product or apart; per-language z-scores
 * of one score per article;
 * then, for the rescoring, which articles may still reach the top k and their float32 scores.
 *
 * The sums are exact integers (|code| <= 127, |query| <= 32767: a dimension of up to 16,384
 * fits an int32), so the result is the same on every path; only the last product rounds.
 * Four rows share each load of the query; rows are split across `threads` OpenMP threads in
 * chunks taken as threads get free (dynamic): the search thread runs beside them, and with a
 * static split the team waited for whichever thread lost its core (hybrid at 100k articles,
 * alternating: the kernel 11.8 -> 10.5 ms and 11.1 -> 10.4 ms, hybrid p50 -1.6 and -0.9 ms).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX2__)
#include <immintrin.h>

static inline int32_t hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* The rows are a memory-mapped file in 4 KB pages, and the hardware prefetcher stops at every
 * page: each group of 4 rows asks for the group PS_AHEAD groups on. At 266,664 rows, alternating
 * in one process: 5.64 -> 3.85 ms on two threads (AVX-512 loop). */
#ifndef PS_AHEAD
#define PS_AHEAD 8
#endif
static inline void prefetch_group(const int8_t *group, long r, long rows, long dim) {
    if (r + 4 * (PS_AHEAD + 1) <= rows) {
        const char *ahead = (const char *)(group + PS_AHEAD * 4 * dim);
        for (long b = 0; b < 4 * dim; b += 64) _mm_prefetch(ahead + b, _MM_HINT_T0);
    }
}

/* 16 codes widened to int16, multiplied by 16 query values, summed in pairs: 8 int32. */
static inline __m256i madd16(const int8_t *codes, __m256i query) {
    return _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)codes)), query);
}
#endif

static int32_t dot_scalar(const int8_t *codes, const int16_t *query, long from, long dim) {
    int32_t total = 0;
    for (long i = from; i < dim; i++) total += (int32_t)codes[i] * query[i];
    return total;
}

/* Every loop scores the rows [r0, r1) of the matrix into out[0 .. r1 - r0): groups of four
 * rows, then the rows past the last whole group; `rows` (the matrix's) bounds the prefetches. */
typedef void (*ps_rows_fn)(const int8_t *codes, const float *scale, long r0, long r1, long rows,
                           long dim, const int16_t *query, float *out);

static inline void store_group(float *out, const float *scale, int32_t t0, int32_t t1,
                               int32_t t2, int32_t t3) {
    out[0] = scale[0] * (float)t0; out[1] = scale[1] * (float)t1;
    out[2] = scale[2] * (float)t2; out[3] = scale[3] * (float)t3;
}

static void score_last_rows(const int8_t *codes, const float *scale, long r0, long r1, long dim,
                            const int16_t *query, float *out) {
    for (long r = r1 - (r1 - r0) % 4; r < r1; r++)
        out[r - r0] = scale[r] * (float)dot_scalar(codes + r * dim, query, 0, dim);
}

/* AVX-512 VNNI (Ice Lake, Sapphire Rapids and later): 32 codes widened to int16 and one
 * vpdpwssd per 32 products, where the AVX2 loop needs two widenings, two madds and two adds; the
 * same int32 sums. The AVX2 loop was bound by its instructions, not by memory: at 266,664 rows
 * it took 17.6 ms on one thread and 8.2 ms on two. POLYSEARCH_INT8_AVX512=off declines it. */
#if defined(__AVX2__) && defined(__GNUC__) && __GNUC__ >= 11
#define PS_HAVE_AVX512 1
static int ps_use_avx512 = 0;

__attribute__((constructor)) static void ps_pick_scores(void) {
    const char *off = getenv("POLYSEARCH_INT8_AVX512");
    __builtin_cpu_init();
    ps_use_avx512 = __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni")
                    && !(off && (!strcmp(off, "off") || !strcmp(off, "0") || !strcmp(off, "no")));
}

__attribute__((target("avx2,avx512f,avx512bw,avx512vnni")))
static void rows_avx512(const int8_t *codes, const float *scale, long r0, long r1, long rows,
                        long dim, const int16_t *query, float *out) {
    long vec_dim = dim - dim % 32;
    for (long r = r0; r + 4 <= r1; r += 4) {
        const int8_t *p0 = codes + r * dim, *p1 = p0 + dim, *p2 = p1 + dim, *p3 = p2 + dim;
        __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
        prefetch_group(p0, r, rows, dim);
        for (long i = 0; i < vec_dim; i += 32) {
            __m512i q = _mm512_loadu_si512((const void *)(query + i));
            a0 = _mm512_dpwssd_epi32(a0, _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(p0 + i))), q);
            a1 = _mm512_dpwssd_epi32(a1, _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(p1 + i))), q);
            a2 = _mm512_dpwssd_epi32(a2, _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(p2 + i))), q);
            a3 = _mm512_dpwssd_epi32(a3, _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(p3 + i))), q);
        }
        int32_t t0 = _mm512_reduce_add_epi32(a0) + dot_scalar(p0, query, vec_dim, dim);
        int32_t t1 = _mm512_reduce_add_epi32(a1) + dot_scalar(p1, query, vec_dim, dim);
        int32_t t2 = _mm512_reduce_add_epi32(a2) + dot_scalar(p2, query, vec_dim, dim);
        int32_t t3 = _mm512_reduce_add_epi32(a3) + dot_scalar(p3, query, vec_dim, dim);
        store_group(out + (r - r0), scale + r, t0, t1, t2, t3);
    }
    score_last_rows(codes, scale, r0, r1, dim, query, out);
}
#endif

/* Which loop ps_int8_scores runs here: "avx512-vnni", "avx2" or "scalar". */
const char *ps_int8_scores_path(void) {
#if defined(PS_HAVE_AVX512)
    if (ps_use_avx512) return "avx512-vnni";
#endif
#if defined(__AVX2__)
    return "avx2";
#else
    return "scalar";
#endif
}

static void rows_portable(const int8_t *codes, const float *scale, long r0, long r1, long rows,
                          long dim, const int16_t *query, float *out) {
#if defined(__AVX2__)
    long vec_dim = dim - dim % 16;
#else
    long vec_dim = 0;
    (void)rows;
#endif
    for (long r = r0; r + 4 <= r1; r += 4) {
        const int8_t *p0 = codes + r * dim, *p1 = p0 + dim, *p2 = p1 + dim, *p3 = p2 + dim;
        int32_t t0 = 0, t1 = 0, t2 = 0, t3 = 0;
#if defined(__AVX2__)
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
        prefetch_group(p0, r, rows, dim);
        for (long i = 0; i < vec_dim; i += 16) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(query + i));
            a0 = _mm256_add_epi32(a0, madd16(p0 + i, q));
            a1 = _mm256_add_epi32(a1, madd16(p1 + i, q));
            a2 = _mm256_add_epi32(a2, madd16(p2 + i, q));
            a3 = _mm256_add_epi32(a3, madd16(p3 + i, q));
        }
        t0 = hsum_epi32(a0); t1 = hsum_epi32(a1); t2 = hsum_epi32(a2); t3 = hsum_epi32(a3);
#endif
        t0 += dot_scalar(p0, query, vec_dim, dim); t1 += dot_scalar(p1, query, vec_dim, dim);
        t2 += dot_scalar(p2, query, vec_dim, dim); t3 += dot_scalar(p3, query, vec_dim, dim);
        store_group(out + (r - r0), scale + r, t0, t1, t2, t3);
    }
    score_last_rows(codes, scale, r0, r1, dim, query, out);
}

static ps_rows_fn ps_rows(void) {
#if defined(PS_HAVE_AVX512)
    if (ps_use_avx512) return rows_avx512;
#endif
    return rows_portable;
}

#define PS_RANGE_ROWS 4096      /* the rows a thread takes at a time */

void ps_int8_scores(const int8_t *codes, const float *scale, long rows, long dim,
                    const int16_t *query, float *out, int threads) {
    ps_rows_fn score = ps_rows();
    long ranges = (rows + PS_RANGE_ROWS - 1) / PS_RANGE_ROWS;
    #pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (long c = 0; c < ranges; c++) {
        long r0 = c * PS_RANGE_ROWS, r1 = r0 + PS_RANGE_ROWS < rows ? r0 + PS_RANGE_ROWS : rows;
        score(codes, scale, r0, r1, rows, dim, query, out + r0);
    }
}

/* ps_int8_scores fused with what a query does next with the row scores, while they are in the
 * cache: each article's best passage (rows [starts[a], starts[a + 1]), as ps_segment_max),
 * times query_scale, to out[a]; if margin, each article's rescoring margin, its largest row
 * scale times sigma times sigmas (float32 products, as numpy's); and per language (langs[a] in
 * [0, nlang)) the sum of out and of its squares, to lang_sums[2 l] and [2 l + 1], for
 * ps_standardize_sums. Run apart, those passes read the 266,664 row scores and the articles'
 * arrays back from memory after the product had streamed 103 MB through the caches: ~1.4 ms of
 * a 100k query's dense scoring. The threads take chunks of whole articles, chunk c the
 * articles [chunks[c], chunks[c + 1]); each chunk's sums are kept apart and added in chunk
 * order, so the result does not depend on which thread took which. Returns 0; -1 when out of
 * memory; -2 for articles or chunks out of order or a language out of range (checked here, as
 * the passes go, rather than by numpy passes over every article before). */
long ps_int8_article_scores(const int8_t *codes, const float *scale, long rows, long dim,
                            const int16_t *query, float query_scale, const int64_t *starts,
                            long articles, const int64_t *chunks, long nchunks,
                            const int64_t *langs, long nlang, float sigma, float sigmas,
                            float *out, float *margin, double *lang_sums, int threads) {
    for (long l = 0; l < 2 * nlang; l++) lang_sums[l] = 0;
    if (articles <= 0 || nchunks <= 0) return 0;
    double *chunk_sums = calloc((size_t)nchunks * 2 * (size_t)nlang, sizeof(double));
    if (!chunk_sums) return -1;
    ps_rows_fn score = ps_rows();
    int failed = 0, invalid = 0;
    #pragma omp parallel num_threads(threads)
    {
        float *row_scores = NULL;
        long capacity = 0;
        #pragma omp for schedule(dynamic, 1)
        for (long c = 0; c < nchunks; c++) {
            long a0 = chunks[c], a1 = c + 1 < nchunks ? chunks[c + 1] : articles;
            if (a0 < 0 || a1 > articles || a1 <= a0) {
                #pragma omp atomic write
                invalid = 1;
                continue;
            }
            long r0 = starts[a0], r1 = a1 < articles ? starts[a1] : rows;
            if (r0 < 0 || r1 > rows || r1 <= r0) {
                #pragma omp atomic write
                invalid = 1;
                continue;
            }
            if (r1 - r0 > capacity) {
                free(row_scores);
                capacity = r1 - r0;
                row_scores = malloc(sizeof(float) * (size_t)capacity);
                if (!row_scores) {
                    capacity = 0;
                    #pragma omp atomic write
                    failed = 1;
                    continue;
                }
            }
            score(codes, scale, r0, r1, rows, dim, query, row_scores);
            double *sums = chunk_sums + (size_t)c * 2 * (size_t)nlang;
            for (long a = a0; a < a1; a++) {
                long first = starts[a], end = a + 1 < articles ? starts[a + 1] : rows, l = langs[a];
                if (end <= first || end > r1 || l < 0 || l >= nlang) {
                    #pragma omp atomic write
                    invalid = 1;
                    break;
                }
                float best = row_scores[first - r0], top_scale = scale[first];
                for (long r = first + 1; r < end; r++) {
                    best = row_scores[r - r0] > best ? row_scores[r - r0] : best;
                    top_scale = scale[r] > top_scale ? scale[r] : top_scale;
                }
                float x = best * query_scale;
                out[a] = x;
                if (margin) margin[a] = (top_scale * sigma) * sigmas;
                sums[2 * l] += x;
                sums[2 * l + 1] += (double)x * x;
            }
        }
        free(row_scores);
    }
    for (long c = 0; c < nchunks; c++)
        for (long l = 0; l < 2 * nlang; l++) lang_sums[l] += chunk_sums[(size_t)c * 2 * (size_t)nlang + l];
    free(chunk_sums);
    return invalid ? -2 : failed ? -1 : 0;
}

/* out[a] = max of x[starts[a] .. starts[a + 1]) (the last group ends at rows); groups not empty. */
void ps_segment_max(const float *x, const int64_t *starts, long groups, long rows, float *out) {
    for (long a = 0; a < groups; a++) {
        long end = a + 1 < groups ? starts[a + 1] : rows;
        float best = x[starts[a]];
        for (long r = starts[a] + 1; r < end; r++) best = x[r] > best ? x[r] : best;
        out[a] = best;
    }
}

/* z = (x - center) / spread per article, and its margin onto the z scale (see ps_standardize):
 * the divisions are multiplications by per-language values. */
static void z_scores(const float *x, const int64_t *codes, long n, long nlang, const double *center,
                     const double *spread, float *margin, float *z) {
    double stack[256], *inverse = nlang <= 256 ? stack : malloc(sizeof(double) * (size_t)nlang);
    if (inverse)
        for (long l = 0; l < nlang; l++) inverse[l] = 1.0 / spread[l];
    for (long a = 0; a < n; a++) {
        long l = codes[a];
        double scale = inverse ? inverse[l] : 1.0 / spread[l];     /* no memory for them: divide */
        float v = (float)((x[a] - center[l]) * scale);
        z[a] = v;
        if (margin) margin[a] = (float)(margin[a] * scale + 4.0 * FLT_EPSILON * (fabs(v) + 1.0));
    }
    if (inverse != stack) free(inverse);
}

/* Per-language z-scores of one score per article (VectorSet.standardize, in three passes
 * instead of numpy's dozen): a language's center is its mean when it has min_center articles
 * (else the mean of all), its spread its standard deviation around that when it has min_spread
 * (else the standard deviation of all the centered scores), plus 1e-6. z = (x - center) /
 * spread. margin, if given, holds each article's rescoring margin in cosine units and gets it
 * on the z scale, plus the float32 rounding of z: margin / spread + 4 FLT_EPSILON (|z| + 1).
 * center and spread out per language; codes[a] in [0, nlang).
 * Sums go to PS_LANES sets of accumulators, by article index: neighbouring articles are mostly
 * of one language, and with one accumulator each addition waited for the one before. The
 * centered sums follow from the plain ones, and the per-article divisions are multiplications
 * by per-language values. At 100,000 articles in 6 languages (median of 300, alternating, the
 * same z bit for bit): 1.22 -> 0.69 ms with the articles in runs of one language, 0.82 -> 0.72 ms
 * with them shuffled. */
#define PS_LANES 4

void ps_standardize(const float *x, const int64_t *codes, long n, long nlang,
                    long min_center, long min_spread, float *margin,
                    double *center, double *spread, float *z) {
    size_t lanes = PS_LANES * (size_t)nlang;
    double *sum = calloc(2 * lanes + (size_t)nlang, sizeof(double)), *sq = sum + lanes;
    double *centered_mean = sq + lanes;
    long *count = calloc(lanes + (size_t)nlang, sizeof(long)), *total_count = count + lanes;
    if (!sum || !count || n <= 0) { free(sum); free(count); return; }
    double total[PS_LANES] = {0}, gsq[PS_LANES] = {0};
    for (long a = 0; a < n; a++) {
        long k = a % PS_LANES, at = k * nlang + codes[a];
        sum[at] += x[a]; count[at]++; total[k] += x[a];
    }
    double all = 0, ctotal = 0;
    for (int k = 0; k < PS_LANES; k++) all += total[k];
    for (long l = 0; l < nlang; l++) {
        double s = 0; long c = 0;
        for (int k = 0; k < PS_LANES; k++) { s += sum[k * nlang + l]; c += count[k * nlang + l]; }
        total_count[l] = c;
        center[l] = c >= min_center ? s / (c ? c : 1) : all / n;
        double centered = s - c * center[l];        /* the sum of x - center over the language */
        centered_mean[l] = centered / (c ? c : 1);
        ctotal += centered;
    }
    double cmean = ctotal / n;
    for (long a = 0; a < n; a++) {
        long l = codes[a], k = a % PS_LANES;
        double c = x[a] - center[l], d = c - centered_mean[l], g = c - cmean;
        sq[k * nlang + l] += d * d; gsq[k] += g * g;
    }
    double all_sq = 0;
    for (int k = 0; k < PS_LANES; k++) all_sq += gsq[k];
    for (long l = 0; l < nlang; l++) {
        double s = 0;
        for (int k = 0; k < PS_LANES; k++) s += sq[k * nlang + l];
        long c = total_count[l];
        spread[l] = c >= min_spread ? sqrt(s / (c ? c : 1)) + 1e-6 : sqrt(all_sq / n) + 1e-6;
    }
    z_scores(x, codes, n, nlang, center, spread, margin, z);
    free(sum); free(count);
}

/* ps_standardize from each language's count of articles and the sums of its scores and of their
 * squares (ps_int8_article_scores makes them with the product): one pass over the articles
 * instead of three. Sums of squares lose ~11 of a double's 53 bits to cancellation when the
 * spread is 1/40 of the mean (cosines near 0.85 ± 0.02): far below float32's 24. */
void ps_standardize_sums(const float *x, const int64_t *codes, long n, long nlang,
                         const int64_t *counts, const double *lang_sums, long min_center,
                         long min_spread, float *margin, double *center, double *spread, float *z) {
    if (n <= 0) return;
    double all = 0, ctotal = 0, all_sq = 0;
    for (long l = 0; l < nlang; l++) all += lang_sums[2 * l];
    for (long l = 0; l < nlang; l++) {
        long c = counts[l];
        double s = lang_sums[2 * l];
        center[l] = c >= min_center ? s / (c ? c : 1) : all / n;
        ctotal += s - c * center[l];
        /* the squares of x - center over the language */
        all_sq += lang_sums[2 * l + 1] - 2 * center[l] * s + c * center[l] * center[l];
    }
    double cmean = ctotal / n, global = all_sq / n - cmean * cmean;
    for (long l = 0; l < nlang; l++) {
        long c = counts[l];
        double mean = lang_sums[2 * l] / (c ? c : 1), own = lang_sums[2 * l + 1] / (c ? c : 1) - mean * mean;
        spread[l] = (c >= min_spread ? sqrt(own > 0 ? own : 0) : sqrt(global > 0 ? global : 0)) + 1e-6;
    }
    z_scores(x, codes, n, nlang, center, spread, margin, z);
}

/* out[a] = the largest of matrix[r] . query over the rows r in [starts[a], ends[a]) (float32
 * rows of dim values; every range non-empty): the exact rescoring of an article's passages,
 * read where they are. numpy gathered the rows into a copy first (fancy indexing), then took
 * the product: at 10k articles, 267 articles' 759 rows, cold, 0.25 ms to copy + 0.08 ms. The
 * sums are in another order than BLAS's, so a score may differ from numpy's in its last bits. */
void ps_ranges_max_dot(const float *matrix, long dim, const int64_t *starts, const int64_t *ends,
                       long n, const float *query, float *out) {
    for (long a = 0; a < n; a++) {
        if (a + 1 < n) {    /* the next article's first row: articles lie anywhere in the file */
            const char *next = (const char *)(matrix + starts[a + 1] * dim);
            for (long b = 0; b < dim * (long)sizeof(float); b += 64) __builtin_prefetch(next + b);
        }
        float best = -INFINITY;
        for (long r = starts[a]; r < ends[a]; r++) {
            const float *row = matrix + r * dim;
            long i = 0;
            float total = 0.0f;
#if defined(__AVX2__)
            __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
            __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
            for (; i + 32 <= dim; i += 32) {
                s0 = _mm256_add_ps(s0, _mm256_mul_ps(_mm256_loadu_ps(row + i), _mm256_loadu_ps(query + i)));
                s1 = _mm256_add_ps(s1, _mm256_mul_ps(_mm256_loadu_ps(row + i + 8), _mm256_loadu_ps(query + i + 8)));
                s2 = _mm256_add_ps(s2, _mm256_mul_ps(_mm256_loadu_ps(row + i + 16), _mm256_loadu_ps(query + i + 16)));
                s3 = _mm256_add_ps(s3, _mm256_mul_ps(_mm256_loadu_ps(row + i + 24), _mm256_loadu_ps(query + i + 24)));
            }
            __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
            __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
            h = _mm_add_ps(h, _mm_movehl_ps(h, h));
            h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 0x55));
            total = _mm_cvtss_f32(h);
#endif
            for (; i < dim; i++) total += row[i] * query[i];
            best = total > best ? total : best;
        }
        out[a] = best;
    }
}

/* The articles that can still be among the k best by exact score (VectorSet._exact_top): with
 * each approximate value within +- margin of the exact one, the k-th best exact score is at
 * least floor, the k-th largest of values - margin over the finite values, and an article whose
 * values + margin is below floor cannot reach the top k. Writes their indexes, ascending, to
 * out; returns how many. floor comes from a min-heap of the k largest lower bounds: numpy's
 * partition of all of them, the sums and the comparisons took 0.69 ms at 100k articles.
 * k >= 1; with fewer than k finite values, every finite one. Float arithmetic as numpy's. */
static inline void sift_down(float *heap, long k, long at) {
    for (;;) {
        long low = at, l = 2 * at + 1, r = l + 1;
        if (l < k && heap[l] < heap[low]) low = l;
        if (r < k && heap[r] < heap[low]) low = r;
        if (low == at) return;
        float t = heap[at]; heap[at] = heap[low]; heap[low] = t;
        at = low;
    }
}

long ps_top_candidates(const float *values, const float *margin, long n, long k, int64_t *out) {
    float *heap = malloc(sizeof(float) * k);
    if (!heap) return -1;
    long filled = 0;
    for (long i = 0; i < n; i++) {
        if (!isfinite(values[i])) continue;
        float low = values[i] - margin[i];
        if (filled < k) {
            heap[filled++] = low;
            if (filled == k)
                for (long at = k / 2 - 1; at >= 0; at--) sift_down(heap, k, at);
        } else if (low > heap[0]) {
            heap[0] = low;
            sift_down(heap, k, 0);
        }
    }
    float floor = filled == k ? heap[0] : -INFINITY;
    free(heap);
    long count = 0;
    for (long i = 0; i < n; i++)
        if (isfinite(values[i]) && values[i] + margin[i] >= floor) out[count++] = i;
    return count;
}
