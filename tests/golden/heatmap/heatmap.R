# Reference values for the heatmap (issue 18, section 1): each group of a one- or two-way
# breakdown against the rest of its audience-wave. Run from this folder:  Rscript heatmap.R
# Reads heatmap_responses.csv (written once by make_input.py) and writes heatmap_expected.csv.
# The coding mirrors ../fpc/definitions: agree5 items, 4-5 positive, Q4 reversed; indices
# confidence = Q1,Q2 and culture = Q3,Q4; outcomes O1 = Q1,Q2 and O4 = Q3,Q4; a respondent's
# index/outcome score needs at least half of its items answered.
# Per unit (instrument, wave, item/index/outcome) the design is built on the rows with a valid
# value, with the FPC when the wave's size is known; the group and the rest are the two
# domains of svyby, their difference and its SE from svycontrast; p two-sided normal; BH over
# the cells of one (instrument, wave, by).
suppressPackageStartupMessages(library(survey))
options(digits = 17)
data <- read.csv("heatmap_responses.csv", colClasses = "character")
data$w <- ifelse(data$weight == "", 1, as.numeric(data$weight))
data$N <- as.numeric(data$audience_size)
data$role[data$role == ""] <- "(not stated)"
data$grade[data$grade == ""] <- "(not stated)"
data$role_grade <- paste(data$role, data$grade, sep = "*")
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
breakdowns <- c(role = "role", "role*grade" = "role_grade")

out <- list()
for (unit in split(data, list(data$instrument, data$wave), drop = TRUE)) {
  for (k in seq_len(nrow(targets))) {
    t <- targets[k, ]
    valid <- unit[!is.na(unit[[t$column]]), ]
    f <- as.formula(paste0("~", t$column))
    for (by in names(breakdowns)) {
      labels <- valid[[breakdowns[[by]]]]
      for (g in sort(unique(labels))) {
        if (all(labels == g)) next  # no rest to compare with
        valid$side <- factor(ifelse(labels == g, "group", "rest"), levels = c("group", "rest"))
        design <- if (!is.na(valid$N[1])) {
          svydesign(ids = ~1, weights = ~w, fpc = ~N, data = valid)
        } else {
          svydesign(ids = ~1, weights = ~w, data = valid)
        }
        est <- svyby(f, ~side, design, svymean, covmat = TRUE)
        contrast <- svycontrast(est, c(group = 1, rest = -1))
        d <- coef(contrast)[[1]] * t$scale
        se <- SE(contrast)[[1]] * t$scale
        out[[length(out) + 1]] <- data.frame(
          instrument = unit$instrument[1], wave = unit$wave[1], level = t$level, id = t$id,
          by = by, group = g, n = sum(labels == g),
          estimate = coef(est)[["group"]] * t$scale, rest_estimate = coef(est)[["rest"]] * t$scale,
          difference = d, se_difference = se,
          p_value = if (se > 0) 2 * pnorm(-abs(d / se)) else NA)
      }
    }
  }
}
expected <- do.call(rbind, out)
family <- paste(expected$instrument, expected$wave, expected$by)
expected$p_adj <- ave(expected$p_value, family, FUN = function(p) p.adjust(p, "BH"))
write.csv(expected, "heatmap_expected.csv", row.names = FALSE)
