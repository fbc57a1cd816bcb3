// Spec reporter that ends with one plain line CI can read: "N passed, N failed, N skipped".
"use strict";
const Mocha = require("mocha");
const { EVENT_RUN_END, EVENT_TEST_PENDING } = Mocha.Runner.constants;

class CountingSpec extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const skipped = [];
    runner.on(EVENT_TEST_PENDING, (test) => skipped.push(test.fullTitle()));
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats;
      if (skipped.length) process.stdout.write(`skipped:\n${skipped.map((t) => `  - ${t}`).join("\n")}\n`);
      process.stdout.write(`${s.passes} passed, ${s.failures} failed, ${s.pending} skipped\n`);
    });
  }
}
module.exports = CountingSpec;
