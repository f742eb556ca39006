# Reference values for the finite population correction, design effects and weight trimming
# (issue 15, sections 3 and 4). Run from this folder:  Rscript fpc.R
# Reads fpc_responses.csv (written once by make_input.py) and writes fpc_indicators.csv and
# fpc_changes.csv. The coding mirrors definitions/: agree5 items, 4-5 positive, Q4 reversed;
# indices confidence = Q1,Q2 and culture = Q3,Q4; outcomes O1 = Q1,Q2 and O4 = Q3,Q4; a
# respondent's index/outcome score needs at least half of its items answered.
suppressPackageStartupMessages(library(survey))
options(digits = 17)
data <- read.csv("fpc_responses.csv", colClasses = "character")
data$w <- ifelse(data$weight == "", 1, as.numeric(data$weight))
data$N <- as.numeric(data$audience_size)
data$role[data$role == ""] <- "(not stated)"
items <- c("Q1", "Q2", "Q3", "Q4")
reverse <- c(Q1 = FALSE, Q2 = FALSE, Q3 = FALSE, Q4 = TRUE)
for (q in items) {
  code <- suppressWarnings(as.numeric(data[[q]]))
  position <- if (reverse[[q]]) 6 - code else code
  data[[paste0("pos_", q)]] <- ifelse(is.na(code), NA, as.numeric(position %in% c(4, 5)))
  data[[paste0("score_", q)]] <- (position - 1) / 4 * 100
}
respondent_mean <- function(columns) {
  values <- as.matrix(data[, columns])
  answered <- rowSums(!is.na(values))
  ifelse(answered >= length(columns) / 2, rowMeans(values, na.rm = TRUE), NA)
}
data$index_confidence <- respondent_mean(c("score_Q1", "score_Q2"))
data$index_culture <- respondent_mean(c("score_Q3", "score_Q4"))
data$outcome_O1 <- respondent_mean(c("pos_Q1", "pos_Q2")) * 100
data$outcome_O4 <- respondent_mean(c("pos_Q3", "pos_Q4")) * 100
targets <- rbind(
  data.frame(level = "item", id = items, column = paste0("pos_", items), scale = 100),
  data.frame(level = "index", id = c("confidence", "culture"),
             column = c("index_confidence", "index_culture"), scale = 1),
  data.frame(level = "outcome", id = c("O1", "O4"), column = c("outcome_O1", "outcome_O4"), scale = 1))

# The design of one unit: the rows of the wave with a valid value, as the issue specifies
# (built on those rows, not na.rm = TRUE), with the FPC when the wave's size is known.
unit_design <- function(rows, column, weights, use_fpc) {
  valid <- rows[!is.na(rows[[column]]), ]
  valid$w_final <- weights[!is.na(rows[[column]])]
  if (use_fpc && !is.na(valid$N[1])) {
    svydesign(ids = ~1, weights = ~w_final, fpc = ~N, data = valid)
  } else {
    svydesign(ids = ~1, weights = ~w_final, data = valid)
  }
}

estimates <- function(case, use_fpc, trim = NULL) {
  out <- list()
  for (unit in split(data, list(data$instrument, data$wave), drop = TRUE)) {
    weights <- unit$w
    if (!is.null(trim)) {
      whole <- svydesign(ids = ~1, weights = ~w, data = unit)
      mean_w <- mean(weights)
      weights <- weights(trimWeights(whole, lower = trim[1] * mean_w, upper = trim[2] * mean_w,
                                     strict = TRUE))
    }
    for (k in seq_len(nrow(targets))) {
      t <- targets[k, ]
      design <- unit_design(unit, t$column, weights, use_fpc)
      f <- as.formula(paste0("~", t$column))
      m <- svymean(f, design, deff = "replace")
      out[[length(out) + 1]] <- data.frame(
        case = case, instrument = unit$instrument[1], wave = unit$wave[1], level = t$level,
        id = t$id, group = "", n = nrow(design$variables), estimate = coef(m)[[1]] * t$scale,
        se = SE(m)[[1]] * t$scale, deff = deff(m)[[1]],
        min_weight = min(weights), max_weight = max(weights), sum_weight = sum(weights))
      by <- svyby(f, ~role, design, svymean, deff = "replace")
      out[[length(out) + 1]] <- data.frame(
        case = case, instrument = unit$instrument[1], wave = unit$wave[1], level = t$level,
        id = t$id, group = as.character(by$role), n = as.vector(table(design$variables$role)[as.character(by$role)]),
        estimate = coef(by) * t$scale, se = SE(by) * t$scale, deff = by[[ncol(by)]],  # deff.svyby() rejects "replace" in 4.1.1
        min_weight = min(weights), max_weight = max(weights), sum_weight = sum(weights))
    }
  }
  do.call(rbind, out)
}

indicators <- rbind(estimates("fpc", TRUE), estimates("nofpc", FALSE),
                    estimates("trim", TRUE, trim = c(0.6, 1.8)))
write.csv(indicators, "fpc_indicators.csv", row.names = FALSE)

# Changes W1 -> W2 of the census instrument: z = change / sqrt(se1^2 + se2^2) with the
# corrected SEs, two-sided normal p, MDC = (1.959964 + 0.841621) sqrt(se1^2 + se2^2).
fpc <- indicators[indicators$case == "fpc" & indicators$instrument == "census", ]
one <- fpc[fpc$wave == "W1", ]
two <- fpc[fpc$wave == "W2", ]
pairs <- merge(one, two, by = c("level", "id", "group"), suffixes = c("_from", "_to"))
se <- sqrt(pairs$se_from^2 + pairs$se_to^2)
changes <- data.frame(level = pairs$level, id = pairs$id, group = pairs$group, wave_from = "W1",
                      wave_to = "W2", change = pairs$estimate_to - pairs$estimate_from,
                      statistic = (pairs$estimate_to - pairs$estimate_from) / se,
                      p_value = 2 * pnorm(-abs((pairs$estimate_to - pairs$estimate_from) / se)),
                      mdc = (1.959964 + 0.841621) * se)
write.csv(changes, "fpc_changes.csv", row.names = FALSE)
