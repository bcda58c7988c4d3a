// head.glsl - types, buffers and per-chain reductions shared by every generated evaluator.
//
// The host puts #version and these defines in front: RMC_F64 (1: float64, 0: float32),
// TPC (threads per chain, a power of two), WG (threads per workgroup, a multiple of TPC),
// WS (workspace reals per chain for values; as many adjoints follow) and DIM (unconstrained
// coordinates). Literals are written as doubles (0.5LF); for float32 the host strips the
// suffix before compiling, so the same templates serve both precisions.
//
// Layout: one chain is worked on by TPC threads of a workgroup, which holds WG / TPC
// chains. The threads of a chain split each vector operation's elements; sums over a
// chain's threads are tree reductions in shared memory, never atomics.

#if RMC_F64
#define real double
#define NEG_INF packDouble2x32(uvec2(0u, 0xFFF00000u))
#define POS_INF packDouble2x32(uvec2(0u, 0x7FF00000u))
#define NAN_R packDouble2x32(uvec2(0u, 0x7FF80000u))
#else
#define real float
#define NEG_INF uintBitsToFloat(0xFF800000u)
#define POS_INF uintBitsToFloat(0x7F800000u)
#define NAN_R uintBitsToFloat(0x7FC00000u)
#endif

layout(local_size_x = WG) in;

// Positions in, [batch][DIM].
layout(std430, set = 0, binding = 0) readonly buffer Positions { real xs[]; };
// Out: lp[cap], then gradients [cap][DIM].
layout(std430, set = 0, binding = 1) writeonly buffer Results { real res[]; };
// Real data uploaded once per bind: data-only operands, bounds, precomputed terms.
layout(std430, set = 0, binding = 2) readonly buffer Data { real dat[]; };
// Integer data: gather indexes and the segments that reduce their adjoints.
layout(std430, set = 0, binding = 3) readonly buffer Indexes { int idx[]; };
// Per-chain workspace: values of the dynamic nodes, then their adjoints. Coherent when a
// chain's threads share it; one thread alone lets the compiler keep values in registers.
#if TPC > 1
layout(std430, set = 0, binding = 4) coherent buffer Scratch { real scr[]; };
#else
layout(std430, set = 0, binding = 4) buffer Scratch { real scr[]; };
#endif

layout(push_constant) uniform Push {
    uint batch; // chains in this dispatch
    uint cap;   // lp slots in front of the gradients in Results
} pc;

shared real red[WG];

uint lane;   // this thread's place among its chain's TPC threads
uint start;  // where its element loops start: lane, or past every end on a padding chain,
             // which so reaches every barrier without doing any work
uint chain;  // the chain (batch position) it works for
uint sb;     // start of the chain's workspace in scr
bool live; // chain < batch; padding chains compute on a copy but write no result
real lp_acc; // this thread's share of the log density

#define V(k) scr[sb + (k)]
#define A(k) scr[sb + WS + (k)]
#define D(k) dat[k]
#define X(k) xs[min(chain, pc.batch - 1u) * DIM + (k)]
#define G(k) res[pc.cap + chain * DIM + (k)]

// Between operations: what one thread of a chain wrote, the others may read next. A
// chain of one thread reads only its own writes, in order, and needs nothing.
#if TPC > 1
#define SYNC() memoryBarrierBuffer(); barrier()
#else
#define SYNC()
#endif

// Sum of v over the chain's threads, returned to all of them. Must be reached by every
// thread of the workgroup (it holds barriers). The tree has a fixed shape, so results are
// reproducible run to run.
real chain_sum(real v)
{
#if TPC > 1
    uint t = gl_LocalInvocationID.x;

    red[t] = v;
    barrier();
    for (uint s = TPC / 2u; s > 0u; s >>= 1u) {
        if (lane < s)
            red[t] += red[t + s];
        barrier();
    }
    v = red[t - lane];
    barrier();
#endif
    return v;
}

// Largest v over the chain's threads, skipping NaN as the CPU's `x > m ? x : m` does.
real chain_max(real v)
{
#if TPC > 1
    uint t = gl_LocalInvocationID.x;

    red[t] = v;
    barrier();
    for (uint s = TPC / 2u; s > 0u; s >>= 1u) {
        if (lane < s && red[t + s] > red[t])
            red[t] = red[t + s];
        barrier();
    }
    v = red[t - lane];
    barrier();
#endif
    return v;
}
