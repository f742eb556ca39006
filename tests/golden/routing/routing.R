# Reference values for routed items and multi items (issue 19). Run from this folder:
#   Rscript routing.R
# Reads routing_responses.csv (written once by make_input.py) and writes
# routing_indicators.csv. The coding mirrors definitions/routed.yaml: agree5 items, 4-5
# positive; Q2 is asked only when Q1 is Yes ("na" otherwise); Q3 is a multi question asked
# only when Q1 is not Yes, one 0/1 column per choice, "% choosing X" among those who
# answered it; index confidence and outcome O12 = Q2, Q4, Q5, a respondent's score needing
# at least half of the items *they were asked* answered; Q6 is a number asked only of
# library users (weighted mean, SE and median).
suppressPackageStartupMessages(library(survey))
options(digits = 17)
data <- read.csv("routing_responses.csv", colClasses = "character")
data$w <- as.numeric(data$weight)
scale_items <- c("Q2", "Q4", "Q5")
for (q in scale_items) {
  code <- suppressWarnings(as.numeric(data[[q]]))  # "na", "dk" and blank are not answers
  data[[paste0("asked_", q)]] <- data[[q]] != "na"
  data[[paste0("pos_", q)]] <- ifelse(is.na(code), NA, as.numeric(code %in% c(4, 5)))
  data[[paste0("score_", q)]] <- (code - 1) / 4 * 100
}
multi_items <- c("Q3_1", "Q3_2", "Q3_3")
for (q in multi_items) {
  data[[paste0("pos_", q)]] <- suppressWarnings(as.numeric(data[[q]]))  # "na", blank -> NA
}
respondent_mean <- function(columns, asked) {
  values <- as.matrix(data[, columns])
  answered <- rowSums(!is.na(values))
  m <- rowSums(as.matrix(data[, asked]))
  needed <- pmax(ceiling(0.5 * m - 1e-9), 1)
  ifelse(answered >= needed, rowMeans(values, na.rm = TRUE), NA)
}
asked <- paste0("asked_", scale_items)
data$index_confidence <- respondent_mean(paste0("score_", scale_items), asked)
data$outcome_O12 <- respondent_mean(paste0("pos_", scale_items), asked) * 100
targets <- rbind(
  data.frame(level = "item", id = c(scale_items, multi_items),
             column = paste0("pos_", c(scale_items, multi_items)), scale = 100),
  data.frame(level = "index", id = "confidence", column = "index_confidence", scale = 1),
  data.frame(level = "outcome", id = "O12", column = "outcome_O12", scale = 1))

out <- list()
for (k in seq_len(nrow(targets))) {
  t <- targets[k, ]
  # The base of a unit is the rows with a valid value: for a routed item, those asked who
  # answered; the design is built on those rows, as for any item.
  valid <- data[!is.na(data[[t$column]]), ]
  design <- svydesign(ids = ~1, weights = ~w, data = valid)
  m <- svymean(as.formula(paste0("~", t$column)), design, deff = "replace")
  out[[k]] <- data.frame(
    instrument = "routed", wave = "W1", level = t$level, id = t$id, group = "",
    n = nrow(valid), estimate = coef(m)[[1]] * t$scale, se = SE(m)[[1]] * t$scale,
    deff = deff(m)[[1]])
}
# Q6, a number asked of library users: weighted mean with its Taylor SE and the weighted
# median (the inverse of the weighted distribution function), on the rows that answered it.
data$num_Q6 <- suppressWarnings(as.numeric(data$Q6))
valid <- data[!is.na(data$num_Q6), ]
design <- svydesign(ids = ~1, weights = ~w, data = valid)
m <- svymean(~num_Q6, design, deff = "replace")
median <- svyquantile(~num_Q6, design, 0.5, qrule = "math", ci = FALSE)
out[[length(out) + 1]] <- data.frame(
  instrument = "routed", wave = "W1", level = "number", id = "Q6", group = "",
  n = nrow(valid), estimate = coef(m)[[1]], se = SE(m)[[1]], deff = deff(m)[[1]],
  median = coef(median)[[1]])
for (k in seq_len(length(out) - 1)) out[[k]]$median <- NA
indicators <- do.call(rbind, out)
write.csv(indicators, "routing_indicators.csv", row.names = FALSE)
cat(sprintf("R %s, survey %s\n", getRversion(), packageVersion("survey")))
