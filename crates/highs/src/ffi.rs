//! The C functions and constants of HiGHS that suandian calls, declared by hand from
//! `HiGHS/highs/interfaces/highs_c_api.h` (no bindgen). `HighsInt` is a 32-bit `int` in this
//! build (`HIGHSINT64` unset, see build.rs).
//!
//! `tests/c_api.rs` reads this file and the header and fails if any declaration here differs
//! from the header's: add a function here, and that test checks it too.

#![allow(non_upper_case_globals)]

use std::os::raw::{c_char, c_double, c_int, c_void};

/// HiGHS' integer type in this build.
pub type HighsInt = c_int;

pub const kHighsStatusError: HighsInt = -1;
pub const kHighsStatusOk: HighsInt = 0;
pub const kHighsStatusWarning: HighsInt = 1;

pub const kHighsObjSenseMinimize: HighsInt = 1;
pub const kHighsObjSenseMaximize: HighsInt = -1;

pub const kHighsMatrixFormatColwise: HighsInt = 1;
pub const kHighsMatrixFormatRowwise: HighsInt = 2;

pub const kHighsModelStatusNotset: HighsInt = 0;
pub const kHighsModelStatusLoadError: HighsInt = 1;
pub const kHighsModelStatusModelError: HighsInt = 2;
pub const kHighsModelStatusPresolveError: HighsInt = 3;
pub const kHighsModelStatusSolveError: HighsInt = 4;
pub const kHighsModelStatusPostsolveError: HighsInt = 5;
pub const kHighsModelStatusModelEmpty: HighsInt = 6;
pub const kHighsModelStatusOptimal: HighsInt = 7;
pub const kHighsModelStatusInfeasible: HighsInt = 8;
pub const kHighsModelStatusUnboundedOrInfeasible: HighsInt = 9;
pub const kHighsModelStatusUnbounded: HighsInt = 10;
pub const kHighsModelStatusObjectiveBound: HighsInt = 11;
pub const kHighsModelStatusObjectiveTarget: HighsInt = 12;
pub const kHighsModelStatusTimeLimit: HighsInt = 13;
pub const kHighsModelStatusIterationLimit: HighsInt = 14;
pub const kHighsModelStatusUnknown: HighsInt = 15;
pub const kHighsModelStatusSolutionLimit: HighsInt = 16;
pub const kHighsModelStatusInterrupt: HighsInt = 17;

pub const kHighsBasisStatusLower: HighsInt = 0;
pub const kHighsBasisStatusBasic: HighsInt = 1;
pub const kHighsBasisStatusUpper: HighsInt = 2;
pub const kHighsBasisStatusZero: HighsInt = 3;
pub const kHighsBasisStatusNonbasic: HighsInt = 4;

extern "C" {
    pub fn Highs_version() -> *const c_char;
    pub fn Highs_versionMajor() -> HighsInt;
    pub fn Highs_versionMinor() -> HighsInt;
    pub fn Highs_versionPatch() -> HighsInt;

    pub fn Highs_create() -> *mut c_void;
    pub fn Highs_destroy(highs: *mut c_void);
    pub fn Highs_getSizeofHighsInt(highs: *const c_void) -> HighsInt;

    pub fn Highs_passLp(
        highs: *mut c_void,
        num_col: HighsInt,
        num_row: HighsInt,
        num_nz: HighsInt,
        a_format: HighsInt,
        sense: HighsInt,
        offset: c_double,
        col_cost: *const c_double,
        col_lower: *const c_double,
        col_upper: *const c_double,
        row_lower: *const c_double,
        row_upper: *const c_double,
        a_start: *const HighsInt,
        a_index: *const HighsInt,
        a_value: *const c_double,
    ) -> HighsInt;
    pub fn Highs_changeObjectiveSense(highs: *mut c_void, sense: HighsInt) -> HighsInt;
    pub fn Highs_getNumCol(highs: *const c_void) -> HighsInt;
    pub fn Highs_getNumRow(highs: *const c_void) -> HighsInt;

    pub fn Highs_setBoolOptionValue(
        highs: *mut c_void,
        option: *const c_char,
        value: HighsInt,
    ) -> HighsInt;
    pub fn Highs_setIntOptionValue(
        highs: *mut c_void,
        option: *const c_char,
        value: HighsInt,
    ) -> HighsInt;
    pub fn Highs_setDoubleOptionValue(
        highs: *mut c_void,
        option: *const c_char,
        value: c_double,
    ) -> HighsInt;
    pub fn Highs_setStringOptionValue(
        highs: *mut c_void,
        option: *const c_char,
        value: *const c_char,
    ) -> HighsInt;

    pub fn Highs_setBasis(
        highs: *mut c_void,
        col_status: *const HighsInt,
        row_status: *const HighsInt,
    ) -> HighsInt;
    pub fn Highs_run(highs: *mut c_void) -> HighsInt;

    pub fn Highs_getModelStatus(highs: *const c_void) -> HighsInt;
    pub fn Highs_getObjectiveValue(highs: *const c_void) -> c_double;
    pub fn Highs_getSolution(
        highs: *const c_void,
        col_value: *mut c_double,
        col_dual: *mut c_double,
        row_value: *mut c_double,
        row_dual: *mut c_double,
    ) -> HighsInt;
    pub fn Highs_getBasis(
        highs: *const c_void,
        col_status: *mut HighsInt,
        row_status: *mut HighsInt,
    ) -> HighsInt;
    pub fn Highs_getIntInfoValue(
        highs: *const c_void,
        info: *const c_char,
        value: *mut HighsInt,
    ) -> HighsInt;
}
