# R `survey` baseline for benchmarks/analysis.py.
#
#   Rscript benchmarks/analysis_r.R RESPONSES.csv ESTIMATES_OUT.csv
#
# Reads the export CSV, builds a "positive" indicator per scale item (positions 4 and 5
# positive; "dk" and blanks are NA; reverse coding is ignored on purpose: this times the
# estimator, not the scoring rules) and, for every item, runs
#
#   svyby(~positive_item, ~wave+audience, design, svymean, na.rm = TRUE)
#
# on design = svydesign(ids = ~1, weights = ~w, data = ...) with w = 1 for every row, the
# like-for-like of analysis.estimators.grouped_means(..., domain=[wave, audience],
# missing="domain"). Prints one "name=value" line per timing (seconds) and writes the
# estimates (item, wave, audience, mean, se) to ESTIMATES_OUT.csv for an agreement check.

suppressPackageStartupMessages(library(survey))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 2) {
  stop("usage: Rscript analysis_r.R RESPONSES.csv ESTIMATES_OUT.csv")
}
responses_path <- args[1]
estimates_path <- args[2]

t_read <- system.time({
  data <- read.csv(responses_path, colClasses = "character", na.strings = "",
                   check.names = FALSE)
})[["elapsed"]]

fixed <- c("response_id", "instrument", "version", "audience", "wave", "submitted_on", "weight")
items <- grep("^Q[0-9]+$", names(data), value = TRUE)

t_prep <- system.time({
  frame <- data.frame(wave = data$wave, audience = data$audience, w = 1.0,
                      stringsAsFactors = FALSE)
  for (item in items) {
    position <- suppressWarnings(as.numeric(data[[item]]))  # "dk" -> NA
    frame[[paste0("positive_", item)]] <- ifelse(is.na(position), NA_real_,
                                                 as.numeric(position >= 4))
  }
  design <- svydesign(ids = ~1, weights = ~w, data = frame)
})[["elapsed"]]

results <- vector("list", length(items))
t_estimate <- system.time({
  for (i in seq_along(items)) {
    variable <- paste0("positive_", items[i])
    by_group <- svyby(as.formula(paste0("~", variable)), ~wave + audience, design, svymean,
                      na.rm = TRUE)
    results[[i]] <- data.frame(item = items[i], wave = by_group$wave,
                               audience = by_group$audience,
                               mean = by_group[[variable]], se = SE(by_group),
                               stringsAsFactors = FALSE)
  }
})[["elapsed"]]

write.csv(do.call(rbind, results), estimates_path, row.names = FALSE)

cat(sprintf("rows=%d\n", nrow(data)))
cat(sprintf("items=%d\n", length(items)))
cat(sprintf("read_seconds=%.6f\n", t_read))
cat(sprintf("prepare_seconds=%.6f\n", t_prep))
cat(sprintf("estimate_seconds=%.6f\n", t_estimate))
cat(sprintf("r_version=%s\n", R.version.string))
cat(sprintf("survey_version=%s\n", as.character(packageVersion("survey"))))
