// main.glsl - the entry point: clear the adjoints, run the generated forward and reverse
// sweeps, reduce the chain's log density.

void main()
{
    uint t = gl_LocalInvocationID.x;

    lane = t % TPC;
    chain = gl_WorkGroupID.x * (WG / TPC) + t / TPC;
    live = chain < pc.batch;
#if TPC > 1
    start = live ? lane : 0x7FFFFFFFu;
#else
    // One thread per chain meets no barrier, so a padding chain may simply stop; and loops
    // that start at a constant keep the element index uniform across the workgroup, which
    // turns data reads into single loads shared by all its chains.
    if (!live)
        return;
    start = 0u;
#endif
    sb = chain * (2u * WS);
    lp_acc = 0.0LF;

    for (uint k = start; k < WS; k += TPC)
        A(k) = 0.0LF;
    SYNC();

    model_forward();
    model_backward();

    real lp = chain_sum(lp_acc);

    if (lane == 0u && live)
        res[chain] = lp;
}
