/* model.h - the model graph as the builder records it, and the compiled program. */
#ifndef RMC_MODEL_H
#define RMC_MODEL_H

#include <stdint.h>

#include "rmc.h"

enum node_kind {
    NODE_PARAM,
    NODE_DATA,
    NODE_CONST,
    NODE_OP1,
    NODE_OP2,
    NODE_GATHER,
    NODE_MATVEC,
    NODE_SLICE,
    NODE_OP3,
    NODE_LPDF,
    NODE_TARGET,
    NODE_TILDE,
    NODE_DROP,      /* vec[begin : n - end]; compiled to a slice                 */
    NODE_ROW,       /* row begin of a matrix; compiled to a slice               */
    NODE_COL,       /* column begin of a matrix; compiled to a gather           */
    NODE_TRANSPOSE, /* compiled to a gather                                     */
    NODE_CONCAT,
    NODE_LINALG,    /* op: enum la_op (linalg.h)                                */
    NODE_SCAN_STATE, /* a scan body's previous state; in[0] = the initial state   */
    NODE_SCAN_INPUT, /* a scan body's current row of sequence in[0]               */
    NODE_SCAN,       /* states 1..T; in = init, next, sequences; begin = the body's
                        state node, dims[0]/dim_names[0] the step count without
                        sequences                                                 */
};

#define NODE_MAX_IN 4

/* One node as recorded by the builder. Shapes here are declarations: a dimension may
 * still be a data name or "any" until the model is bound to data. */
struct node {
    int32_t kind;               /* enum node_kind                                    */
    int32_t op;                 /* rmc_op; rmc_dist for NODE_TILDE and NODE_LPDF;
                                   enum la_op for NODE_LINALG                        */
    int32_t nin;
    rmc_node in[NODE_MAX_IN];
    char *name;                 /* parameter or data field name                      */
    int32_t dtype;              /* NODE_DATA: rmc_dtype                              */
    int32_t ndim;               /* NODE_PARAM, NODE_DATA                             */
    int64_t dims[RMC_MAX_DIMS]; /* > 0 fixed, -1 from the bound array                */
    char *dim_names[RMC_MAX_DIMS];
    rmc_node lower, upper;      /* NODE_PARAM bounds                                 */
    int32_t transform;          /* NODE_PARAM: rmc_transform                         */
    int32_t base;               /* NODE_GATHER index base                            */
    int64_t begin, end;         /* NODE_SLICE range; end < 0 marks a scalar element;
                                   NODE_DROP: elements dropped at each end; NODE_ROW,
                                   NODE_COL: the index in begin                      */
    double delta;               /* NODE_LINALG cov_exp_quad: diagonal jitter         */
    double *values;             /* NODE_CONST                                        */
    int64_t nvalues;            /* NODE_CONST: 0 for a scalar, else vector length    */
};

struct deterministic {
    char *name;
    rmc_node node;
};

struct rmc_model {
    struct node *nodes;
    int32_t n_nodes, cap_nodes;
    struct deterministic *dets;
    int32_t n_dets, cap_dets;
    rmc_status status; /* first builder error, sticky */
    char error[1024];
    int32_t scan_open;       /* a scan body is being recorded                    */
    rmc_node scan_state;     /* its state node                                   */
    int32_t scan_nseq;
    rmc_node scan_seq[2];    /* its sequences                                    */
};

/* A short human description of a node for messages: its name, or op(inputs). */
void model_describe(const rmc_model *model, rmc_node id, char *buf, size_t cap);

const char *model_op_name(int32_t op);

#endif
