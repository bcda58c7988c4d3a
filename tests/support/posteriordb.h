/* posteriordb.h - reading ../shared/posteriordb and the reference rule for C tests.
 *
 * The rule (the same as tests/python/posteriordb.py applies to Python fits): for every
 * element of the reference, |mean - ref_mean| <= max(0.1 ref_sd, 4 MCSE), |sd / ref_sd - 1|
 * <= 0.1 and R-hat < 1.01; and divergences in under 0.5% of draws. */
#ifndef RMC_TEST_POSTERIORDB_H
#define RMC_TEST_POSTERIORDB_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "rmc.h"

/* The posteriordb folder: $RMC_POSTERIORDB, else the path configured at build time.
 * NULL when it holds no files, so that callers can skip. */
const char *pdb_dir(void);

/* Parse NAME.SUFFIX.json ("data" or "reference"); NULL when absent or malformed. */
cJSON *pdb_load(const char *name, const char *suffix);

/* The reference's control settings, where it states them. */
void pdb_control(const cJSON *reference, rmc_config *config);

/* Apply the reference rule. Writes one line per offending element into report and
 * returns the number of failures (0: the fit passes). */
int pdb_check(rmc_fit *fit, const cJSON *reference, char *report, size_t cap);

/* Bind an integer or real JSON field (scalar or array) into data; the arrays it allocates
 * are appended to *keep for the caller to free with pdb_free_kept. */
rmc_status pdb_bind(rmc_data *data, const cJSON *json, const char *field, int as_int,
                    void ***keep, int *n_keep);
void pdb_free_kept(void **keep, int n_keep);

#endif
