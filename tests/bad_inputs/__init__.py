"""Fault and bad-input test material: the hostile corpus with its expected outcomes
(:mod:`bad_inputs.corpus`), the good record stream and the undisturbed reference run that fault
tests compare against (:mod:`bad_inputs.stream`), and the counts they report
(:mod:`bad_inputs.report`)."""
