# stan_run.R - compile one Stan program with rstan and sample it; called by run.py.
#
# Rscript stan_run.R PROGRAM.stan DATA.R OUT_PREFIX SEED CHAINS WARMUP DRAWS CORES \
#                    ADAPT_DELTA MAX_TREEDEPTH
#
# Writes OUT_PREFIX.draws.csv (chain, then one column per parameter element, post-warmup
# draws only; transformed parameters included) and OUT_PREFIX.result.txt ("key value"
# lines: compile_s and sample_s (wall, proc.time elapsed), the sum of n_leapfrog__ over
# every chain and iteration warmup included and after warmup, divergent transitions after
# warmup, and each chain's own warmup + sampling time as rstan reports it).
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 10) stop("usage: stan_run.R PROGRAM DATA OUT SEED CHAINS WARMUP DRAWS CORES ADAPT_DELTA MAX_TREEDEPTH")
program <- args[1]; data_file <- args[2]; out <- args[3]
seed <- as.integer(args[4]); chains <- as.integer(args[5]); warmup <- as.integer(args[6])
draws <- as.integer(args[7]); cores <- as.integer(args[8])
adapt_delta <- as.numeric(args[9]); max_treedepth <- as.integer(args[10])

suppressPackageStartupMessages(library(rstan))
# Debian's r-cran-bh is an empty shell over libboost-dev: its headers are in
# /usr/include, where rstan does not look, and stan_model() stops with "Boost not found".
if (!nzchar(rstan_options("boost_lib")) || !file.exists(rstan_options("boost_lib"))) {
    if (file.exists("/usr/include/boost/version.hpp")) {
        rstan_options(boost_lib = "/usr/include")
    }
}
data <- rstan::read_rdump(data_file)

t0 <- proc.time()[["elapsed"]]
sm <- stan_model(file = program, model_name = "compare", auto_write = FALSE, verbose = FALSE)
t1 <- proc.time()[["elapsed"]]
fit <- sampling(sm, data = data, chains = chains, iter = warmup + draws, warmup = warmup,
                seed = seed, cores = cores, refresh = 0, open_progress = FALSE,
                control = list(adapt_delta = adapt_delta, max_treedepth = max_treedepth))
t2 <- proc.time()[["elapsed"]]

arr <- as.array(fit)                       # iterations x chains x parameters
if (length(dim(arr)) != 3 || dim(arr)[1] != draws || dim(arr)[2] != chains)
    stop("rstan returned draws of an unexpected shape: ", paste(dim(arr), collapse = " x "))
rows <- do.call(rbind, lapply(seq_len(chains), function(c) cbind(chain = c, arr[, c, ])))
write.csv(rows, paste0(out, ".draws.csv"), row.names = FALSE)

sp <- get_sampler_params(fit, inc_warmup = TRUE)
kept <- (warmup + 1):(warmup + draws)
leap_all <- sum(sapply(sp, function(m) sum(m[, "n_leapfrog__"])))
leap_kept <- sum(sapply(sp, function(m) sum(m[kept, "n_leapfrog__"])))
divergent <- sum(sapply(sp, function(m) sum(m[kept, "divergent__"])))
elapsed <- get_elapsed_time(fit)          # chains x (warmup, sample), seconds
chain_s <- rowSums(elapsed)
writeLines(c(sprintf("compile_s %.6f", t1 - t0),
             sprintf("sample_s %.6f", t2 - t1),
             sprintf("leapfrog_all %.0f", leap_all),
             sprintf("leapfrog_kept %.0f", leap_kept),
             sprintf("divergent %.0f", divergent),
             sprintf("chain_s_max %.6f", max(chain_s)),
             sprintf("chain_s_sum %.6f", sum(chain_s))),
           paste0(out, ".result.txt"))
