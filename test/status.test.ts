/**
 * In-process tests of `Status` (issue 20 item 6): mpi4py 4.x's test_status.py translated, with
 * a typed-array constructor standing for the datatype (`Uint8Array` for `BYTE`). The counts of
 * real messages are checked in the ranks: test/suites/small-calls.ts.
 *
 * Left out of test_status.py: `testPickle` and `testToMemory` (no pickling, no C struct to view),
 * and `DATATYPE_NULL` (there are no datatype handles: any argument that is not a typed-array
 * constructor is refused instead). mpi4py's `count` property is bytes; here it stays the count
 * of elements a receive reports, so `testPyProps` checks it as a plain field.
 */
import assert from "node:assert/strict";
import { ANY_SOURCE, ANY_TAG, UNDEFINED } from "../lib/constants.js";
import { TsmpiError, type TsmpiErrorCode } from "../lib/errors.js";
import { Status } from "../lib/status.js";

const BYTE = Uint8Array;
/** mpi4py's tests set `error` to `MPI.ERR_ARG`; any non-zero code does here. */
const ERR_ARG = 12;

function throwsCode(fn: () => unknown, code: TsmpiErrorCode, what: string): void {
  assert.throws(fn, (e: unknown) => e instanceof TsmpiError && e.code === code, what);
}

describe("Status (issue 20 item 6)", function () {
  let STATUS: Status;
  beforeEach(function () {
    STATUS = new Status();
  });

  it("testDefaultFieldValues", function () {
    assert.equal(STATUS.Get_source(), ANY_SOURCE);
    assert.equal(STATUS.Get_tag(), ANY_TAG);
    assert.equal(STATUS.Get_error(), 0);
  });

  it("testGetCount", function () {
    assert.equal(STATUS.Get_count(BYTE), 0);
    assert.equal(STATUS.Get_count(), 0, "BYTE by default");
    assert.equal(STATUS.Get_count(Float64Array), 0);
    for (const bad of [null, 8, "DOUBLE", DataView, Array, Object, class NotAnArray {}]) {
      throwsCode(() => STATUS.Get_count(bad as never), "ERR_TSMPI_TYPE", `Get_count(${String(bad)})`);
    }
  });

  it("testGetElements", function () {
    assert.equal(STATUS.Get_elements(BYTE), 0);
    throwsCode(() => STATUS.Get_elements(null as never), "ERR_TSMPI_TYPE", "Get_elements(null)");
  });

  it("testSetElements, and counts in other kinds", function () {
    STATUS.Set_elements(BYTE, 7);
    assert.equal(STATUS.Get_count(BYTE), 7);
    assert.equal(STATUS.Get_elements(BYTE), 7);
    throwsCode(() => STATUS.Set_elements(null as never, 0), "ERR_TSMPI_TYPE", "Set_elements(null, 0)");
    throwsCode(() => STATUS.Set_elements(BYTE, -1), "ERR_TSMPI_COUNT", "Set_elements(BYTE, -1)");
    throwsCode(() => STATUS.Set_elements(BYTE, 1.5), "ERR_TSMPI_COUNT", "Set_elements(BYTE, 1.5)");
    assert.equal(STATUS.Get_count(Int16Array), UNDEFINED, "7 bytes are no whole number of shorts");
    assert.equal(STATUS.Get_elements(Int16Array), UNDEFINED);

    STATUS.Set_elements(Float64Array, 3);
    assert.equal(STATUS.count, 3);
    assert.equal(STATUS.Get_count(Float64Array), 3);
    assert.equal(STATUS.Get_count(), 24);
    assert.equal(STATUS.Get_count(Float32Array), 6);
    assert.equal(STATUS.Get_count(BigUint64Array), 3);
    assert.equal(STATUS.Get_count(Int16Array), 12);
    assert.equal(STATUS.Get_elements(Int32Array), 6);
    assert.equal(STATUS.getCount(8), 3, "the older getCount(bytesPerElement) agrees");
  });

  it("testIsCancelled", function () {
    const flag = STATUS.Is_cancelled();
    assert.equal(typeof flag, "boolean");
    assert.equal(flag, false);
  });

  it("testSetCancelled", function () {
    STATUS.Set_cancelled(true);
    assert.equal(STATUS.Is_cancelled(), true);
    assert.equal(STATUS.isCancelled(), true);
  });

  it("testPyProps", function () {
    assert.equal(STATUS.Get_source(), STATUS.source);
    assert.equal(STATUS.Get_tag(), STATUS.tag);
    assert.equal(STATUS.Get_error(), STATUS.error);
    STATUS.source = 1;
    STATUS.tag = 2;
    STATUS.error = ERR_ARG;
    assert.equal(STATUS.Get_source(), 1);
    assert.equal(STATUS.Get_tag(), 2);
    assert.equal(STATUS.Get_error(), ERR_ARG);
    STATUS.Set_source(3);
    STATUS.Set_tag(4);
    STATUS.Set_error(0);
    assert.equal(STATUS.source, 3);
    assert.equal(STATUS.tag, 4);
    assert.equal(STATUS.error, 0);
    assert.ok(Number.isInteger(STATUS.count));
    assert.equal(STATUS.count, 0);
    STATUS.count = 7;
    assert.equal(STATUS.count, 7);
    STATUS.count = 0;
    assert.equal(typeof STATUS.cancelled, "boolean");
    assert.equal(STATUS.cancelled, false);
    STATUS.cancelled = true;
    assert.equal(STATUS.Is_cancelled(), true);
    STATUS.cancelled = false;
  });

  it("testConstructor", function () {
    throwsCode(() => new Status(123 as never), "ERR_TSMPI_ARG", "Status(123)");
    throwsCode(() => new Status("abc" as never), "ERR_TSMPI_ARG", 'Status("abc")');
    throwsCode(() => new Status({ source: 1 } as never), "ERR_TSMPI_ARG", "a look-alike object");
  });

  it("testCopyConstructor", function () {
    STATUS.source = 1;
    STATUS.tag = 2;
    STATUS.error = ERR_ARG;
    let status = new Status(STATUS);
    assert.equal(status.source, 1);
    assert.equal(status.tag, 2);
    assert.equal(status.error, ERR_ARG);
    STATUS.Set_elements(BYTE, 7);
    STATUS.Set_cancelled(true);
    status = new Status(STATUS);
    assert.equal(status.Get_count(BYTE), 7);
    assert.equal(status.Get_elements(BYTE), 7);
    assert.equal(status.Is_cancelled(), true);
    status.source = 5;
    assert.equal(STATUS.source, 1, "a copy, not a view");
  });
});
