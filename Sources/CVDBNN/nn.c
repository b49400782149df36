/* Element-wise and attention kernels for the CLIP towers. See include/vdb_nn.h.
 *
 * The loops are written once as always-inline generic C and instantiated twice: for the baseline
 * target and with target("avx2,fma"), where clang vectorizes them 8 lanes wide. The exp-heavy
 * loops (quick_gelu, softmax) use an explicit AVX2 exp (Cephes polynomial, ~1 ulp) since libm's
 * expf does not vectorize. The level comes from CVDBKernels' one CPU dispatch (vdb_isa.h); the
 * AVX-512 level runs the AVX2 code (these loops are bound by exp and memory, not vector width)
 * except attention, whose products run 16 wide (attention_avx512). */
#include "vdb_nn.h"
#include "vdb_isa.h"
#include <math.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define VDB_NN_X86 1
#endif

#define VDB_INLINE static inline __attribute__((always_inline))

/* ---------------- generic bodies ---------------- */

VDB_INLINE void layernorm_body(const float *x, size_t ldx, float *out, size_t ldo, size_t r0, size_t r1,
                               size_t n, const float *gamma, const float *beta, float eps) {
#pragma clang fp reassociate(on)
    for (size_t r = r0; r < r1; r++) {
        const float *xr = x + r * ldx;
        float *o = out + r * ldo;
        float sum = 0;
        for (size_t i = 0; i < n; i++) sum += xr[i];
        float mean = sum / (float)n;
        float var = 0;
        for (size_t i = 0; i < n; i++) { float d = xr[i] - mean; var += d * d; }
        var /= (float)n;
        float inv = 1.0f / sqrtf(var + eps);
        for (size_t i = 0; i < n; i++) o[i] = (xr[i] - mean) * inv * gamma[i] + beta[i];
    }
}

VDB_INLINE void attention_body(const float *qkv, float *out, size_t seq, size_t heads, size_t dh, int causal,
                               const int32_t *lengths, const int32_t *only, float scale, size_t p0, size_t p1,
                               float *scratch, void (*softmax)(float *, size_t)) {
#pragma clang fp reassociate(on)
    const size_t D = heads * dh, ld = 3 * D;
    for (size_t p = p0; p < p1; p++) {
        size_t b = p / heads, h = p % heads;
        size_t len = lengths ? (size_t)lengths[b] : seq;
        if (len > seq) len = seq;
        const float *base = qkv + b * seq * ld;
        float *kt = scratch;              /* [dh][len] keys, transposed */
        float *s = scratch + dh * seq;    /* [len] scores */
        for (size_t j = 0; j < len; j++) {
            const float *k = base + j * ld + D + h * dh;
            for (size_t d = 0; d < dh; d++) kt[d * len + j] = k[d];
        }
        size_t i0 = 0, i1 = len;
        if (only) { i0 = (size_t)only[b]; i1 = i0 < len ? i0 + 1 : i0; }
        for (size_t i = i0; i < i1; i++) {
            const float *q = base + i * ld + h * dh;
            size_t n = causal ? i + 1 : len;
            for (size_t j = 0; j < n; j++) s[j] = 0;
            for (size_t d = 0; d < dh; d++) {
                float qd = q[d] * scale;
                const float *kr = kt + d * len;
                for (size_t j = 0; j < n; j++) s[j] += qd * kr[j];
            }
            softmax(s, n);
            float *o = out + (b * seq + i) * D + h * dh;
            for (size_t d = 0; d < dh; d++) o[d] = 0;
            for (size_t j = 0; j < n; j++) {
                const float *v = base + j * ld + 2 * D + h * dh;
                float pj = s[j];
                for (size_t d = 0; d < dh; d++) o[d] += pj * v[d];
            }
        }
    }
}

/* ---------------- scalar ---------------- */

static void softmax_scalar(float *s, size_t n) {
    float m = -INFINITY;
    for (size_t j = 0; j < n; j++) m = s[j] > m ? s[j] : m;
    float sum = 0;
    for (size_t j = 0; j < n; j++) { s[j] = expf(s[j] - m); sum += s[j]; }
    float inv = 1.0f / sum;
    for (size_t j = 0; j < n; j++) s[j] *= inv;
}

static void layernorm_scalar(const float *x, size_t ldx, float *out, size_t ldo, size_t r0, size_t r1,
                             size_t n, const float *gamma, const float *beta, float eps) {
    layernorm_body(x, ldx, out, ldo, r0, r1, n, gamma, beta, eps);
}

static void bias_act_scalar(float *x, size_t ld, size_t r0, size_t r1, size_t n, const float *bias, int act) {
    for (size_t r = r0; r < r1; r++) {
        float *xr = x + r * ld;
        for (size_t i = 0; i < n; i++) {
            float v = xr[i] + (bias ? bias[i] : 0.0f);
            if (act == VDB_ACT_QUICK_GELU) v = v / (1.0f + expf(-1.702f * v));
            else if (act == VDB_ACT_GELU) v = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
            xr[i] = v;
        }
    }
}

static void attention_scalar(const float *qkv, float *out, size_t seq, size_t heads, size_t dh, int causal,
                             const int32_t *lengths, const int32_t *only, float scale, size_t p0, size_t p1,
                             float *scratch) {
    attention_body(qkv, out, seq, heads, dh, causal, lengths, only, scale, p0, p1, scratch, softmax_scalar);
}

/* ---------------- AVX2 + FMA ---------------- */
#ifdef VDB_NN_X86
#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline __m256 exp256(__m256 x) {
    const __m256 hi = _mm256_set1_ps(88.3762626647949f), lo = _mm256_set1_ps(-88.3762626647949f);
    x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    __m256 fx = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f));
    fx = _mm256_floor_ps(fx);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 y = _mm256_set1_ps(1.9875691500E-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
    __m256 x2 = _mm256_mul_ps(x, x);
    y = _mm256_fmadd_ps(y, x2, _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

AVX2 static float hmax256(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}
AVX2 static float hsum256(__m256 v) {
    __m128 m = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_add_ps(m, _mm_movehl_ps(m, m));
    m = _mm_add_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

AVX2 static void softmax_avx2(float *s, size_t n) {
    size_t j = 0;
    __m256 vm = _mm256_set1_ps(-INFINITY);
    for (; j + 8 <= n; j += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(s + j));
    float m = hmax256(vm);
    for (; j < n; j++) m = s[j] > m ? s[j] : m;
    __m256 vmx = _mm256_set1_ps(m), acc = _mm256_setzero_ps();
    float sum = 0;
    for (j = 0; j + 8 <= n; j += 8) {
        __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(s + j), vmx));
        _mm256_storeu_ps(s + j, e);
        acc = _mm256_add_ps(acc, e);
    }
    for (; j < n; j++) { s[j] = expf(s[j] - m); sum += s[j]; }
    sum += hsum256(acc);
    float inv = 1.0f / sum;
    __m256 vi = _mm256_set1_ps(inv);
    for (j = 0; j + 8 <= n; j += 8) _mm256_storeu_ps(s + j, _mm256_mul_ps(_mm256_loadu_ps(s + j), vi));
    for (; j < n; j++) s[j] *= inv;
}

AVX2 static void layernorm_avx2(const float *x, size_t ldx, float *out, size_t ldo, size_t r0, size_t r1,
                                size_t n, const float *gamma, const float *beta, float eps) {
    layernorm_body(x, ldx, out, ldo, r0, r1, n, gamma, beta, eps);
}

AVX2 static void bias_act_avx2(float *x, size_t ld, size_t r0, size_t r1, size_t n, const float *bias, int act) {
    if (act == VDB_ACT_GELU) { bias_act_scalar(x, ld, r0, r1, n, bias, act); return; }
    const __m256 one = _mm256_set1_ps(1.0f), k = _mm256_set1_ps(-1.702f);
    for (size_t r = r0; r < r1; r++) {
        float *xr = x + r * ld;
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            __m256 v = _mm256_loadu_ps(xr + i);
            if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + i));
            if (act == VDB_ACT_QUICK_GELU) v = _mm256_div_ps(v, _mm256_add_ps(one, exp256(_mm256_mul_ps(k, v))));
            _mm256_storeu_ps(xr + i, v);
        }
        for (; i < n; i++) {
            float v = xr[i] + (bias ? bias[i] : 0.0f);
            if (act == VDB_ACT_QUICK_GELU) v = v / (1.0f + expf(-1.702f * v));
            xr[i] = v;
        }
    }
}

/* The register-blocked attention kernels (AVX2 and AVX-512 widths) share everything but the
 * products of one block of up to four queries: `attention_blocks` walks the (item, head) pairs and
 * the blocks, and calls the width's block function (inlined: the driver is always_inline and the
 * function a constant). Keys are transposed into scratch as [dh][ls], ls = seq rounded up to 8,
 * zero from the item's length on; scores go to the next 4 rows of ls floats. */
typedef struct {
    const float *q[4];  /* query rows (the first repeated past nq) */
    size_t nq;          /* queries in the block */
    size_t nmax;        /* keys any of them sees */
    size_t ib, len;     /* first query's position; tokens taking part */
    int causal;
    const float *kt;    /* [dh][ls] keys, transposed */
    float *sc;          /* [4][ls] scores, then probabilities */
    size_t ls, dh;
    float scale;
    const float *v;     /* the item's value rows of this head, stride ld */
    size_t ld;
    float *o;           /* output row of query ib for this head, stride ldo */
    size_t ldo;
} attention_block_t;

/* Softmax of each query's scores over the keys it may see; the rest of the keys the block reads
 * (up to nmax) set to zero. */
AVX2 static void attention_block_softmax(const attention_block_t *k) {
    for (size_t r = 0; r < 4; r++) {
        float *row = k->sc + r * k->ls;
        size_t n = r < k->nq ? (k->causal ? k->ib + r + 1 : k->len) : 0;
        if (n) softmax_avx2(row, n);
        for (size_t j = n; j < k->nmax; j++) row[j] = 0;
    }
}

VDB_INLINE void attention_blocks(const float *qkv, float *out, size_t seq, size_t heads, size_t dh, int causal,
                                 const int32_t *lengths, const int32_t *only, float scale, size_t p0, size_t p1,
                                 float *scratch, void (*block)(const attention_block_t *)) {
    const size_t D = heads * dh, ld = 3 * D;
    const size_t ls = (seq + 7) & ~(size_t)7;
    attention_block_t k = {.causal = causal, .kt = scratch, .sc = scratch + dh * ls, .ls = ls, .dh = dh,
                           .scale = scale, .ld = ld, .ldo = D};
    for (size_t p = p0; p < p1; p++) {
        size_t b = p / heads, h = p % heads;
        size_t len = lengths ? (size_t)lengths[b] : seq;
        if (len > seq) len = seq;
        const float *base = qkv + b * seq * ld;
        float *kt = scratch;
        size_t lpad = (len + 7) & ~(size_t)7;
        for (size_t d = 0; d < dh; d++)
            for (size_t j = len; j < lpad; j++) kt[d * ls + j] = 0;
        for (size_t j = 0; j < len; j++) {
            const float *key = base + j * ld + D + h * dh;
            for (size_t d = 0; d < dh; d++) kt[d * ls + j] = key[d];
        }
        size_t i0 = 0, i1 = len;
        if (only) { i0 = (size_t)only[b]; i1 = i0 < len ? i0 + 1 : i0; }
        k.len = len;
        k.v = base + 2 * D + h * dh;
        for (size_t ib = i0; ib < i1; ib += 4) {
            k.ib = ib;
            k.nq = i1 - ib < 4 ? i1 - ib : 4;
            for (size_t r = 0; r < 4; r++) k.q[r] = base + (ib + (r < k.nq ? r : 0)) * ld + h * dh;
            k.nmax = causal ? ib + k.nq : len;
            k.o = out + (b * seq + ib) * D + h * dh;
            block(&k);
        }
    }
}

/* One block, 8 wide: scores for eight keys and outputs for eight dims in registers. */
AVX2 static inline void attention_block8(const attention_block_t *k) {
    const size_t ls = k->ls, dh = k->dh, nvec = (k->nmax + 7) / 8;
    const float *const *q = k->q;
    for (size_t jv = 0; jv < nvec; jv++) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        const float *kc = k->kt + jv * 8;
        for (size_t d = 0; d < dh; d++) {
            __m256 kv = _mm256_loadu_ps(kc + d * ls);
            a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(q[0] + d), kv, a0);
            a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(q[1] + d), kv, a1);
            a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(q[2] + d), kv, a2);
            a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(q[3] + d), kv, a3);
        }
        __m256 vs = _mm256_set1_ps(k->scale);
        _mm256_storeu_ps(k->sc + 0 * ls + jv * 8, _mm256_mul_ps(a0, vs));
        _mm256_storeu_ps(k->sc + 1 * ls + jv * 8, _mm256_mul_ps(a1, vs));
        _mm256_storeu_ps(k->sc + 2 * ls + jv * 8, _mm256_mul_ps(a2, vs));
        _mm256_storeu_ps(k->sc + 3 * ls + jv * 8, _mm256_mul_ps(a3, vs));
    }
    attention_block_softmax(k);
    const float *sc = k->sc;
    for (size_t dc = 0; dc < dh; dc += 8) {
        __m256 o0 = _mm256_setzero_ps(), o1 = o0, o2 = o0, o3 = o0;
        for (size_t j = 0; j < k->nmax; j++) {
            __m256 vv = _mm256_loadu_ps(k->v + j * k->ld + dc);
            o0 = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + 0 * ls + j), vv, o0);
            o1 = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + 1 * ls + j), vv, o1);
            o2 = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + 2 * ls + j), vv, o2);
            o3 = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + 3 * ls + j), vv, o3);
        }
        __m256 o[4] = {o0, o1, o2, o3};
        for (size_t r = 0; r < k->nq; r++) _mm256_storeu_ps(k->o + r * k->ldo + dc, o[r]);
    }
}

/* Register-blocked attention for head_dim % 8 == 0: four queries at a time (attention_blocks,
 * attention_block8). */
AVX2 static void attention_avx2(const float *qkv, float *out, size_t seq, size_t heads, size_t dh, int causal,
                                const int32_t *lengths, const int32_t *only, float scale, size_t p0, size_t p1,
                                float *scratch) {
    if (dh % 8 != 0) {
        attention_body(qkv, out, seq, heads, dh, causal, lengths, only, scale, p0, p1, scratch, softmax_avx2);
        return;
    }
    attention_blocks(qkv, out, seq, heads, dh, causal, lengths, only, scale, p0, p1, scratch, attention_block8);
}

/* ---------------- AVX-512 ---------------- */

#define AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl")))

/* One block, 16 wide: scores for sixteen keys and outputs for sixteen dims in registers. Key rows
 * are padded to 8 only (the scratch contract), so the last block of a row is read and written
 * under a mask. */
AVX512 static inline void attention_block16(const attention_block_t *k) {
    const size_t ls = k->ls, dh = k->dh, nvec = (k->nmax + 15) / 16;
    const float *const *q = k->q;
    __m512 vs = _mm512_set1_ps(k->scale);
    for (size_t jv = 0; jv < nvec; jv++) {
        size_t j0 = jv * 16, avail = ls - j0;
        __mmask16 m = avail >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << avail) - 1u);
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        const float *kc = k->kt + j0;
        for (size_t d = 0; d < dh; d++) {
            __m512 kv = _mm512_maskz_loadu_ps(m, kc + d * ls);
            a0 = _mm512_fmadd_ps(_mm512_set1_ps(q[0][d]), kv, a0);
            a1 = _mm512_fmadd_ps(_mm512_set1_ps(q[1][d]), kv, a1);
            a2 = _mm512_fmadd_ps(_mm512_set1_ps(q[2][d]), kv, a2);
            a3 = _mm512_fmadd_ps(_mm512_set1_ps(q[3][d]), kv, a3);
        }
        _mm512_mask_storeu_ps(k->sc + 0 * ls + j0, m, _mm512_mul_ps(a0, vs));
        _mm512_mask_storeu_ps(k->sc + 1 * ls + j0, m, _mm512_mul_ps(a1, vs));
        _mm512_mask_storeu_ps(k->sc + 2 * ls + j0, m, _mm512_mul_ps(a2, vs));
        _mm512_mask_storeu_ps(k->sc + 3 * ls + j0, m, _mm512_mul_ps(a3, vs));
    }
    attention_block_softmax(k);
    const float *sc = k->sc;
    for (size_t dc = 0; dc < dh; dc += 16) {
        __m512 o0 = _mm512_setzero_ps(), o1 = o0, o2 = o0, o3 = o0;
        for (size_t j = 0; j < k->nmax; j++) {
            __m512 vv = _mm512_loadu_ps(k->v + j * k->ld + dc);
            o0 = _mm512_fmadd_ps(_mm512_set1_ps(sc[0 * ls + j]), vv, o0);
            o1 = _mm512_fmadd_ps(_mm512_set1_ps(sc[1 * ls + j]), vv, o1);
            o2 = _mm512_fmadd_ps(_mm512_set1_ps(sc[2 * ls + j]), vv, o2);
            o3 = _mm512_fmadd_ps(_mm512_set1_ps(sc[3 * ls + j]), vv, o3);
        }
        __m512 o[4] = {o0, o1, o2, o3};
        for (size_t r = 0; r < k->nq; r++) _mm512_storeu_ps(k->o + r * k->ldo + dc, o[r]);
    }
}

/* attention_avx2's blocking with 16-wide vectors, for head_dim % 16 == 0 (CLIP's 64). */
AVX512 static void attention_avx512(const float *qkv, float *out, size_t seq, size_t heads, size_t dh, int causal,
                                    const int32_t *lengths, const int32_t *only, float scale, size_t p0, size_t p1,
                                    float *scratch) {
    if (dh % 16 != 0) {
        attention_avx2(qkv, out, seq, heads, dh, causal, lengths, only, scale, p0, p1, scratch);
        return;
    }
    attention_blocks(qkv, out, seq, heads, dh, causal, lengths, only, scale, p0, p1, scratch, attention_block16);
}
#endif


/* ---------------- dispatch ---------------- */

static void softmax_rows_scalar(float *x, size_t ld, size_t rows, size_t n) {
    for (size_t r = 0; r < rows; r++) softmax_scalar(x + r * ld, n);
}
#ifdef VDB_NN_X86
AVX2 static void softmax_rows_avx2(float *x, size_t ld, size_t rows, size_t n) {
    for (size_t r = 0; r < rows; r++) softmax_avx2(x + r * ld, n);
}
#endif

/* Levels this build has no code for stay zeroed; vdb_isa_supported never admits them. */
static const vdb_nn_table g_tables[VDB_ISA_COUNT] = {
    {VDB_ISA_SCALAR, layernorm_scalar, bias_act_scalar, attention_scalar, softmax_rows_scalar},
#ifdef VDB_NN_X86
    {VDB_ISA_AVX2, layernorm_avx2, bias_act_avx2, attention_avx2, softmax_rows_avx2},
    {VDB_ISA_AVX512, layernorm_avx2, bias_act_avx2, attention_avx512, softmax_rows_avx2},
#endif
};

const vdb_nn_table *vdb_nn_table_for(int isa) { return vdb_isa_supported(isa) ? &g_tables[isa] : NULL; }

static inline const vdb_nn_table *active(void) { return &g_tables[vdb_isa_active()]; }

void vdb_nn_layernorm(const float *x, size_t ldx, float *out, size_t ldo, size_t r0, size_t r1,
                      size_t n, const float *gamma, const float *beta, float eps) {
    active()->layernorm(x, ldx, out, ldo, r0, r1, n, gamma, beta, eps);
}

void vdb_nn_bias_act(float *x, size_t ld, size_t r0, size_t r1, size_t n, const float *bias, int act) {
    active()->bias_act(x, ld, r0, r1, n, bias, act);
}

void vdb_nn_attention(const float *qkv, float *out, size_t seq, size_t heads, size_t head_dim, int causal,
                      const int32_t *lengths, const int32_t *only, float scale, size_t p0, size_t p1,
                      float *scratch) {
    active()->attention(qkv, out, seq, heads, head_dim, causal, lengths, only, scale, p0, p1, scratch);
}

void vdb_nn_softmax_rows(float *x, size_t ld, size_t rows, size_t n) { active()->softmax_rows(x, ld, rows, n); }
