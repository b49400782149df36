/* Matrix products of the CLIP towers: Y = [Y +] X W^T [+ bias], with W packed once at load.
 * See include/vdb_gemm.h.
 *
 * Layout (GotoBLAS/BLIS style). W [n, k] is stored as panels of NR = 64 columns, each panel k rows
 * of 64 floats (zero-padded past n), so the micro-kernel reads it front to back. X is read in place
 * in blocks of MC x KC (192 x 512: 384 KiB, held in L2 while every panel's KC x 64 slice streams
 * past it), 6 rows at a time, each value broadcast; copying X into k-major slivers first, as BLIS
 * does, cost 3% of the image tower and bought nothing at these row strides.
 *
 * Micro-kernels (6 rows x 64 columns):
 *   AVX-512: 24 zmm accumulators; per k 4 vector loads, 6 broadcasts, 24 FMAs.
 *   AVX2:    the panel as four 16-column strips, 12 ymm accumulators each.
 *   scalar:  plain C over a 6 x 64 tile.
 * Every output element is the sum over k in ascending order within each KC block, blocks added in
 * order, so results do not depend on how callers split the columns among threads.
 *
 * bf16 (opt-in, AVX512_BF16): W packed as pairs of bf16 along k, X rounded to bf16 and packed
 * per block into a per-thread buffer, products accumulated in float32 with vdpbf16ps (two
 * multiply-adds per lane and instruction). */
#include "vdb_gemm.h"
#include "vdb_isa.h"
#include <pthread.h>
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define VDB_GEMM_X86 1
#endif

#define NR VDB_GEMM_NR
#define MR 6
#define KC 512 /* even: bf16 blocks hold whole k pairs */
#define MC (MR * 32)

/* a: float32 kernels read X in place (row r of the sliver at a + r * lda, for r < mr);
 * bf16 kernels read a packed sliver (lda unused). */
typedef void (*ukr_fn)(size_t kc, const void *a, size_t lda, const void *b, float *c, size_t ldc, int load_c,
                       const float *bias, size_t mr, size_t nr);

static inline size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

/* ---------------- packing ---------------- */

size_t vdb_gemm_packed_count(size_t n, size_t k) {
    size_t panels = n / NR + (n % NR != 0), out;
    if (__builtin_mul_overflow(panels, (size_t)NR, &out) || __builtin_mul_overflow(out, k, &out)) return 0;
    return out > PTRDIFF_MAX / sizeof(float) ? 0 : out; /* the byte count must fit a signed size */
}

void vdb_gemm_pack(const float *w, size_t n, size_t k, float *packed) {
    size_t panels = n / NR + (n % NR != 0);
    for (size_t p = 0; p < panels; p++) {
        float *dst = packed + p * k * NR;
        size_t cols = min_sz(NR, n - p * NR);
        for (size_t kk = 0; kk < k; kk++) {
            const float *src = w + p * NR * k + kk;
            for (size_t j = 0; j < cols; j++) dst[kk * NR + j] = src[j * k];
            for (size_t j = cols; j < NR; j++) dst[kk * NR + j] = 0;
        }
    }
}

/* ---------------- per-thread buffer ---------------- */

static pthread_key_t g_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_key_ok;
static void make_key(void) { g_key_ok = pthread_key_create(&g_key, free) == 0; }

/* The calling thread's buffer for a packed bf16 block of X (freed when the thread exits), or NULL. */
static float *thread_buffer(void) {
    pthread_once(&g_once, make_key);
    if (!g_key_ok) return NULL;
    float *p = pthread_getspecific(g_key);
    if (!p) {
        p = aligned_alloc(64, (size_t)MC * KC * sizeof(float));
        if (p && pthread_setspecific(g_key, p) != 0) { free(p); p = NULL; }
    }
    return p;
}

/* ---------------- driver ---------------- */

static int gemm_f32(ukr_fn ukr, const float *x, size_t ldx, size_t m, const float *packed, size_t n, size_t k,
                    const float *bias, int accumulate, float *y, size_t ldy, size_t c0, size_t c1) {
    if (c0 % NR) return -3;
    if (c1 > n) c1 = n;
    if (m == 0 || c0 >= c1) return 0;
    if (k == 0) { /* the sum is empty: y = [y +] bias */
        for (size_t i = 0; i < m; i++)
            for (size_t j = c0; j < c1; j++) y[i * ldy + j] = (accumulate ? y[i * ldy + j] : 0) + (bias ? bias[j] : 0);
        return 0;
    }
    /* X is read in place (a block of MC rows x KC stays in L2 while the panels stream past it):
     * packing it cost 3% of the image tower and bought nothing at these row strides. */
    for (size_t k0 = 0; k0 < k; k0 += KC) {
        size_t kc = min_sz(KC, k - k0);
        int load_c = k0 > 0 || accumulate;
        const float *b_bias = k0 + kc == k ? bias : NULL;
        for (size_t i0 = 0; i0 < m; i0 += MC) {
            size_t mc = min_sz(MC, m - i0);
            for (size_t j0 = c0; j0 < c1; j0 += NR) {
                size_t nr = min_sz(NR, c1 - j0);
                const float *b = packed + (j0 / NR) * k * NR + k0 * NR;
                for (size_t s = 0; s < mc; s += MR)
                    ukr(kc, x + (i0 + s) * ldx + k0, ldx, b, y + (i0 + s) * ldy + j0, ldy, load_c,
                        b_bias ? b_bias + j0 : NULL, min_sz(MR, mc - s), nr);
            }
        }
    }
    return 0;
}

/* ---------------- scalar ---------------- */

/* c[r, j] = [c +] acc[r, j] [+ bias[j]] for the valid rows and columns of a tile whose rows are
 * lda floats apart (NR for a whole 6 x 64 tile, 16 for a 16-column slice of one). */
static void store_tile(const float *acc, size_t lda, float *c, size_t ldc, int load_c, const float *bias, size_t mr,
                       size_t nr) {
    for (size_t r = 0; r < mr; r++)
        for (size_t j = 0; j < nr; j++) {
            float v = acc[r * lda + j] + (bias ? bias[j] : 0.0f);
            c[r * ldc + j] = load_c ? c[r * ldc + j] + v : v;
        }
}

static void ukr_scalar(size_t kc, const void *av, size_t lda, const void *bv, float *c, size_t ldc, int load_c,
                       const float *bias, size_t mr, size_t nr) {
    const float *a = av, *b = bv;
    float acc[MR * NR] = {0};
    for (size_t p = 0; p < kc; p++, b += NR)
        for (size_t r = 0; r < mr; r++) {
            float ar = a[r * lda + p];
            for (size_t j = 0; j < NR; j++) acc[r * NR + j] += ar * b[j];
        }
    store_tile(acc, NR, c, ldc, load_c, bias, mr, nr);
}

static int gemm_scalar(const float *x, size_t ldx, size_t m, const float *packed, size_t n, size_t k,
                       const float *bias, int accumulate, float *y, size_t ldy, size_t c0, size_t c1) {
    return gemm_f32(ukr_scalar, x, ldx, m, packed, n, k, bias, accumulate, y, ldy, c0, c1);
}

#ifdef VDB_GEMM_X86
/* ---------------- AVX2 + FMA ---------------- */
#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static void ukr_avx2(size_t kc, const void *av, size_t lda, const void *bv, float *c, size_t ldc, int load_c,
                          const float *bias, size_t mr, size_t nr) {
    const float *rows[MR];
    for (size_t r = 0; r < MR; r++) rows[r] = (const float *)av + (r < mr ? r : mr - 1) * lda; /* past mr: discarded */
    for (size_t q = 0; q * 16 < nr; q++) {
        const float *b = (const float *)bv + q * 16;
        __m256 acc[MR][2];
        for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
        for (size_t p = 0; p < kc; p++, b += NR) {
            __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma clang loop unroll(full)
            for (int r = 0; r < MR; r++) {
                __m256 ar = _mm256_broadcast_ss(rows[r] + p);
                acc[r][0] = _mm256_fmadd_ps(ar, b0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(ar, b1, acc[r][1]);
            }
        }
        size_t cols = min_sz(16, nr - q * 16);
        float *cq = c + q * 16;
        const float *bq = bias ? bias + q * 16 : NULL;
        if (cols == 16) {
            __m256 bb0 = bq ? _mm256_loadu_ps(bq) : _mm256_setzero_ps(), bb1 = bq ? _mm256_loadu_ps(bq + 8) : _mm256_setzero_ps();
            for (size_t r = 0; r < mr; r++) {
                __m256 v0 = _mm256_add_ps(acc[r][0], bb0), v1 = _mm256_add_ps(acc[r][1], bb1);
                if (load_c) {
                    v0 = _mm256_add_ps(_mm256_loadu_ps(cq + r * ldc), v0);
                    v1 = _mm256_add_ps(_mm256_loadu_ps(cq + r * ldc + 8), v1);
                }
                _mm256_storeu_ps(cq + r * ldc, v0);
                _mm256_storeu_ps(cq + r * ldc + 8, v1);
            }
        } else {
            float t[MR * 16];
            for (int r = 0; r < MR; r++) { _mm256_storeu_ps(t + r * 16, acc[r][0]); _mm256_storeu_ps(t + r * 16 + 8, acc[r][1]); }
            store_tile(t, 16, cq, ldc, load_c, bq, mr, cols);
        }
    }
}

AVX2 static int gemm_avx2(const float *x, size_t ldx, size_t m, const float *packed, size_t n, size_t k,
                          const float *bias, int accumulate, float *y, size_t ldy, size_t c0, size_t c1) {
    return gemm_f32(ukr_avx2, x, ldx, m, packed, n, k, bias, accumulate, y, ldy, c0, c1);
}

/* ---------------- AVX-512 ---------------- */
#define AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,fma")))

/* Masks of the valid columns in each of the four 16-column vectors of a tile. */
AVX512 static inline void column_masks(size_t nr, __mmask16 m[4]) {
    for (size_t q = 0; q < 4; q++) {
        size_t cnt = nr > q * 16 ? min_sz(16, nr - q * 16) : 0;
        m[q] = (__mmask16)((1u << cnt) - 1u);
    }
}

AVX512 static inline __attribute__((always_inline)) void store_tile512(__m512 acc[MR][4], float *c, size_t ldc,
                                                                       int load_c, const float *bias, size_t mr,
                                                                       size_t nr) {
    if (mr == MR && nr == NR) { /* whole tile: straight-line code on the accumulators in registers */
        __m512 bb[4];
#pragma clang loop unroll(full)
        for (int q = 0; q < 4; q++) bb[q] = bias ? _mm512_loadu_ps(bias + q * 16) : _mm512_setzero_ps();
#pragma clang loop unroll(full)
        for (int r = 0; r < MR; r++)
#pragma clang loop unroll(full)
            for (int q = 0; q < 4; q++) {
                float *cp = c + r * ldc + q * 16;
                __m512 v = _mm512_add_ps(acc[r][q], bb[q]);
                if (load_c) v = _mm512_add_ps(_mm512_loadu_ps(cp), v);
                _mm512_storeu_ps(cp, v);
            }
        return;
    }
    __mmask16 m[4];
    column_masks(nr, m);
    __m512 bb[4];
    for (int q = 0; q < 4; q++) bb[q] = bias ? _mm512_maskz_loadu_ps(m[q], bias + q * 16) : _mm512_setzero_ps();
    for (size_t r = 0; r < mr; r++)
        for (int q = 0; q < 4; q++) {
            if (!m[q]) continue;
            float *cp = c + r * ldc + q * 16;
            __m512 v = _mm512_add_ps(acc[r][q], bb[q]);
            if (load_c) v = _mm512_add_ps(_mm512_maskz_loadu_ps(m[q], cp), v);
            _mm512_mask_storeu_ps(cp, m[q], v);
        }
}

AVX512 static void ukr_avx512(size_t kc, const void *av, size_t lda, const void *bv, float *c, size_t ldc, int load_c,
                              const float *bias, size_t mr, size_t nr) {
    const float *b = bv;
    const float *rows[MR];
    for (size_t r = 0; r < MR; r++) rows[r] = (const float *)av + (r < mr ? r : mr - 1) * lda; /* past mr: discarded */
    __m512 acc[MR][4];
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = acc[r][2] = acc[r][3] = _mm512_setzero_ps();
    if (load_c)
        for (size_t r = 0; r < mr; r++) { _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0); _mm_prefetch((const char *)(c + r * ldc + 48), _MM_HINT_T0); }
    for (size_t p = 0; p < kc; p++, b += NR) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
        __m512 b2 = _mm512_loadu_ps(b + 32), b3 = _mm512_loadu_ps(b + 48);
#pragma clang loop unroll(full)
        for (int r = 0; r < MR; r++) {
            __m512 ar = _mm512_set1_ps(rows[r][p]);
            __asm__("" : "+v"(ar)); /* one broadcast per row, not one folded into each of its 4 FMAs */
            acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(ar, b2, acc[r][2]);
            acc[r][3] = _mm512_fmadd_ps(ar, b3, acc[r][3]);
        }
    }
    store_tile512(acc, c, ldc, load_c, bias, mr, nr);
}

AVX512 static int gemm_avx512(const float *x, size_t ldx, size_t m, const float *packed, size_t n, size_t k,
                              const float *bias, int accumulate, float *y, size_t ldy, size_t c0, size_t c1) {
    return gemm_f32(ukr_avx512, x, ldx, m, packed, n, k, bias, accumulate, y, ldy, c0, c1);
}
#endif


/* ---------------- bf16 (opt-in) ---------------- */

/* float -> bf16, rounded to nearest even (NaN stays NaN). */
static inline uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float from_bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

size_t vdb_gemm_packed_bf16_count(size_t n, size_t k) {
    size_t panels = n / NR + (n % NR != 0), pairs = k / 2 + (k % 2), out;
    if (__builtin_mul_overflow(panels, (size_t)NR * 2, &out) || __builtin_mul_overflow(out, pairs, &out)) return 0;
    return out > PTRDIFF_MAX / sizeof(uint16_t) ? 0 : out;
}

/* Panel p, pair t, column j holds W[j, 2t] (low half) and W[j, 2t + 1] (high half) as one 32-bit
 * lane, the operand layout of vdpbf16ps. */
void vdb_gemm_pack_bf16(const float *w, size_t n, size_t k, uint16_t *packed) {
    size_t panels = n / NR + (n % NR != 0), pairs = k / 2 + (k % 2);
    for (size_t p = 0; p < panels; p++) {
        uint16_t *dst = packed + p * pairs * NR * 2;
        size_t cols = min_sz(NR, n - p * NR);
        for (size_t t = 0; t < pairs; t++)
            for (size_t j = 0; j < NR; j++) {
                const float *src = w + (p * NR + j) * k + 2 * t;
                int live = j < cols;
                dst[(t * NR + j) * 2] = live ? to_bf16(src[0]) : 0;
                dst[(t * NR + j) * 2 + 1] = live && 2 * t + 1 < k ? to_bf16(src[1]) : 0;
            }
    }
}

/* X rows [0, mc), columns [0, kc) as MR-row slivers of bf16 pairs (one uint32 per row and pair). */
static void pack_a_bf16(const float *x, size_t ldx, size_t mc, size_t kc, uint32_t *dst) {
    size_t pairs = kc / 2 + (kc % 2);
    for (size_t s = 0; s < mc; s += MR) {
        size_t mr = min_sz(MR, mc - s);
        const float *xs = x + s * ldx;
        for (size_t t = 0; t < pairs; t++, dst += MR) {
            for (size_t r = 0; r < mr; r++) {
                const float *v = xs + r * ldx + 2 * t;
                uint32_t lo = to_bf16(v[0]), hi = 2 * t + 1 < kc ? to_bf16(v[1]) : 0;
                dst[r] = lo | hi << 16;
            }
            for (size_t r = mr; r < MR; r++) dst[r] = 0;
        }
    }
}

static int gemm_bf16_driver(ukr_fn ukr, const float *x, size_t ldx, size_t m, const uint16_t *packed, size_t n,
                            size_t k, const float *bias, int accumulate, float *y, size_t ldy, size_t c0, size_t c1) {
    if (c0 % NR) return -3;
    if (c1 > n) c1 = n;
    if (m == 0 || c0 >= c1) return 0;
    if (k == 0) return gemm_f32(ukr_scalar, x, ldx, m, NULL, n, 0, bias, accumulate, y, ldy, c0, c1);
    uint32_t *apack = (uint32_t *)thread_buffer();
    if (!apack) return -1;
    size_t pairs = k / 2 + (k % 2);
    const uint32_t *b32 = (const uint32_t *)packed;
    for (size_t k0 = 0; k0 < k; k0 += KC) {
        size_t kc = min_sz(KC, k - k0), kp = kc / 2 + (kc % 2);
        int load_c = k0 > 0 || accumulate;
        const float *b_bias = k0 + kc == k ? bias : NULL;
        for (size_t i0 = 0; i0 < m; i0 += MC) {
            size_t mc = min_sz(MC, m - i0);
            pack_a_bf16(x + i0 * ldx + k0, ldx, mc, kc, apack);
            for (size_t j0 = c0; j0 < c1; j0 += NR) {
                size_t nr = min_sz(NR, c1 - j0);
                const uint32_t *b = b32 + (j0 / NR) * pairs * NR + (k0 / 2) * NR;
                for (size_t s = 0; s < mc; s += MR)
                    ukr(kp, apack + s * kp, 0, b, y + (i0 + s) * ldy + j0, ldy, load_c, b_bias ? b_bias + j0 : NULL,
                        min_sz(MR, mc - s), nr);
            }
        }
    }
    return 0;
}

/* Portable bf16 kernel: the same rounded operands, products summed in float32 pair by pair. */
static void ukr_bf16_scalar(size_t kp, const void *av, size_t lda, const void *bv, float *c, size_t ldc, int load_c,
                            const float *bias, size_t mr, size_t nr) {
    (void)lda;
    const uint32_t *a = av, *b = bv;
    float acc[MR * NR] = {0};
    for (size_t p = 0; p < kp; p++, a += MR, b += NR)
        for (size_t r = 0; r < MR; r++) {
            float a0 = from_bf16((uint16_t)a[r]), a1 = from_bf16((uint16_t)(a[r] >> 16));
            for (size_t j = 0; j < NR; j++)
                acc[r * NR + j] += a0 * from_bf16((uint16_t)b[j]) + a1 * from_bf16((uint16_t)(b[j] >> 16));
        }
    store_tile(acc, NR, c, ldc, load_c, bias, mr, nr);
}

#ifdef VDB_GEMM_X86
#define AVX512BF16 __attribute__((target("avx512f,avx512vl,avx512bw,avx512bf16,fma")))

AVX512BF16 static void ukr_bf16_avx512(size_t kp, const void *av, size_t lda, const void *bv, float *c, size_t ldc,
                                       int load_c, const float *bias, size_t mr, size_t nr) {
    (void)lda;
    const uint32_t *a = av, *b = bv;
    __m512 acc[MR][4];
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = acc[r][2] = acc[r][3] = _mm512_setzero_ps();
    if (load_c)
        for (size_t r = 0; r < mr; r++) { _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0); _mm_prefetch((const char *)(c + r * ldc + 48), _MM_HINT_T0); }
    for (size_t p = 0; p < kp; p++, a += MR, b += NR) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 16);
        __m512bh b2 = (__m512bh)_mm512_loadu_si512(b + 32), b3 = (__m512bh)_mm512_loadu_si512(b + 48);
#pragma clang loop unroll(full)
        for (int r = 0; r < MR; r++) {
            __m512i ai = _mm512_set1_epi32((int)a[r]);
            __asm__("" : "+v"(ai));
            __m512bh ar = (__m512bh)ai;
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], ar, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], ar, b1);
            acc[r][2] = _mm512_dpbf16_ps(acc[r][2], ar, b2);
            acc[r][3] = _mm512_dpbf16_ps(acc[r][3], ar, b3);
        }
    }
    store_tile512(acc, c, ldc, load_c, bias, mr, nr);
}
#endif

static int native_bf16(void) {
#ifdef VDB_GEMM_X86
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        __builtin_cpu_init();
        v = __builtin_cpu_supports("avx512bf16") ? 1 : 0;
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v && vdb_isa_active() >= VDB_ISA_AVX512;
#else
    return 0;
#endif
}

int vdb_gemm_bf16_native(void) { return native_bf16(); }

int vdb_gemm_bf16_at(int native, const float *x, size_t ldx, size_t m, const uint16_t *packed, size_t n, size_t k,
                        const float *bias, int accumulate, float *y, size_t ldy, size_t col_begin, size_t col_end) {
#ifdef VDB_GEMM_X86
    if (native) {
        if (!native_bf16()) return -2;
        return gemm_bf16_driver(ukr_bf16_avx512, x, ldx, m, packed, n, k, bias, accumulate, y, ldy, col_begin, col_end);
    }
#else
    if (native) return -2;
#endif
    return gemm_bf16_driver(ukr_bf16_scalar, x, ldx, m, packed, n, k, bias, accumulate, y, ldy, col_begin, col_end);
}

int vdb_gemm_bf16(const float *x, size_t ldx, size_t m, const uint16_t *packed, size_t n, size_t k,
                     const float *bias, int accumulate, float *y, size_t ldy, size_t col_begin, size_t col_end) {
    return vdb_gemm_bf16_at(native_bf16(), x, ldx, m, packed, n, k, bias, accumulate, y, ldy, col_begin, col_end);
}

/* ---------------- dispatch ---------------- */

typedef int (*gemm_fn)(const float *, size_t, size_t, const float *, size_t, size_t, const float *, int, float *, size_t,
                       size_t, size_t);

static const gemm_fn g_gemm[VDB_ISA_COUNT] = {
    gemm_scalar,
#ifdef VDB_GEMM_X86
    gemm_avx2,
    gemm_avx512,
#endif
};

int vdb_gemm_at(int isa, const float *x, size_t ldx, size_t m, const float *packed, size_t n, size_t k,
                   const float *bias, int accumulate, float *y, size_t ldy, size_t col_begin, size_t col_end) {
    if (!vdb_isa_supported(isa) || !g_gemm[isa]) return -2;
    return g_gemm[isa](x, ldx, m, packed, n, k, bias, accumulate, y, ldy, col_begin, col_end);
}

int vdb_gemm(const float *x, size_t ldx, size_t m, const float *packed, size_t n, size_t k, const float *bias,
                int accumulate, float *y, size_t ldy, size_t col_begin, size_t col_end) {
    return g_gemm[vdb_isa_active()](x, ldx, m, packed, n, k, bias, accumulate, y, ldy, col_begin, col_end);
}
