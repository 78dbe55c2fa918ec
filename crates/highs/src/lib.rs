//! HiGHS, the linear-programming solver, built from its vendored sources with nothing but a
//! C/C++ compiler (see build.rs and README.md), and a small safe API over the part of its C API
//! that suandian's planner uses: build an LP column by column and row by row, set options, start
//! from a basis, solve, read the solution, the iteration count and the final basis.
//!
//! ```
//! use suandian_highs::{ModelStatus, Problem, Sense};
//! // Minimise x + 2y subject to x + y >= 1, 0 <= x <= 0.4, y >= 0.
//! let mut pb = Problem::default();
//! let x = pb.add_column(1.0, 0.0..=0.4);
//! let y = pb.add_column(2.0, 0.0..);
//! pb.add_row(1.0.., &[(x, 1.0), (y, 1.0)]);
//! let solved = pb.optimise(Sense::Minimise).unwrap().solve().unwrap();
//! assert_eq!(solved.status(), ModelStatus::Optimal);
//! assert!((solved.objective_value() - 1.6).abs() < 1e-9);
//! ```

pub mod ffi;

use ffi::HighsInt;
use std::ffi::{c_void, CStr, CString};
use std::fmt;
use std::ops::{Bound, RangeBounds};
use std::os::raw::c_char;
use std::ptr::NonNull;

/// The HiGHS version compiled in, as `major.minor.patch`.
pub fn version() -> String {
    // SAFETY: the three calls take no argument and return plain integers.
    let (major, minor, patch) = unsafe {
        (
            ffi::Highs_versionMajor(),
            ffi::Highs_versionMinor(),
            ffi::Highs_versionPatch(),
        )
    };
    format!("{major}.{minor}.{patch}")
}

/// A column (variable) of a [`Problem`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Col(usize);

impl Col {
    /// Its position in the problem, counted from 0 in the order the columns were added.
    pub fn index(self) -> usize {
        self.0
    }
}

/// The direction of the optimisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sense {
    Minimise,
    Maximise,
}

/// Why HiGHS could not take or solve a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// More columns, rows or nonzeros than HiGHS' 32-bit integers count.
    TooLarge { what: &'static str, count: usize },
    /// A C API call returned `kHighsStatusError`.
    Rejected { call: &'static str },
    /// An option HiGHS does not know, or a value it refuses for it.
    Option { name: String },
    /// A basis whose length does not match the model's columns or rows.
    BasisLength {
        what: &'static str,
        expected: usize,
        found: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TooLarge { what, count } => write!(
                f,
                "{count} {what} are more than HiGHS' 32-bit integers can count ({} at most)",
                HighsInt::MAX
            ),
            Error::Rejected { call } => write!(f, "HiGHS returned an error from {call}"),
            Error::Option { name } => {
                write!(f, "HiGHS refused the option `{name}` or its value")
            }
            Error::BasisLength {
                what,
                expected,
                found,
            } => write!(
                f,
                "a basis with {found} {what} statuses for a model with {expected} {what}"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// The model status HiGHS reports after a solve (`kHighsModelStatus*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelStatus {
    NotSet,
    LoadError,
    ModelError,
    PresolveError,
    SolveError,
    PostsolveError,
    ModelEmpty,
    Optimal,
    Infeasible,
    UnboundedOrInfeasible,
    Unbounded,
    ObjectiveBound,
    ObjectiveTarget,
    TimeLimit,
    IterationLimit,
    Unknown,
    SolutionLimit,
    Interrupt,
    /// A status this binding does not name.
    Other(HighsInt),
}

impl ModelStatus {
    fn from_raw(raw: HighsInt) -> Self {
        match raw {
            ffi::kHighsModelStatusNotset => Self::NotSet,
            ffi::kHighsModelStatusLoadError => Self::LoadError,
            ffi::kHighsModelStatusModelError => Self::ModelError,
            ffi::kHighsModelStatusPresolveError => Self::PresolveError,
            ffi::kHighsModelStatusSolveError => Self::SolveError,
            ffi::kHighsModelStatusPostsolveError => Self::PostsolveError,
            ffi::kHighsModelStatusModelEmpty => Self::ModelEmpty,
            ffi::kHighsModelStatusOptimal => Self::Optimal,
            ffi::kHighsModelStatusInfeasible => Self::Infeasible,
            ffi::kHighsModelStatusUnboundedOrInfeasible => Self::UnboundedOrInfeasible,
            ffi::kHighsModelStatusUnbounded => Self::Unbounded,
            ffi::kHighsModelStatusObjectiveBound => Self::ObjectiveBound,
            ffi::kHighsModelStatusObjectiveTarget => Self::ObjectiveTarget,
            ffi::kHighsModelStatusTimeLimit => Self::TimeLimit,
            ffi::kHighsModelStatusIterationLimit => Self::IterationLimit,
            ffi::kHighsModelStatusUnknown => Self::Unknown,
            ffi::kHighsModelStatusSolutionLimit => Self::SolutionLimit,
            ffi::kHighsModelStatusInterrupt => Self::Interrupt,
            other => Self::Other(other),
        }
    }
}

/// The status of a column or row in a simplex basis (`kHighsBasisStatus*`).
///
/// `repr(i32)` with HiGHS' values, so a slice of them is the array the C API takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum BasisStatus {
    /// Nonbasic at its lower bound.
    Lower = ffi::kHighsBasisStatusLower,
    Basic = ffi::kHighsBasisStatusBasic,
    /// Nonbasic at its upper bound.
    Upper = ffi::kHighsBasisStatusUpper,
    /// Nonbasic and free, at zero.
    Zero = ffi::kHighsBasisStatusZero,
    Nonbasic = ffi::kHighsBasisStatusNonbasic,
}

impl BasisStatus {
    fn from_raw(raw: HighsInt) -> Option<Self> {
        Some(match raw {
            ffi::kHighsBasisStatusLower => Self::Lower,
            ffi::kHighsBasisStatusBasic => Self::Basic,
            ffi::kHighsBasisStatusUpper => Self::Upper,
            ffi::kHighsBasisStatusZero => Self::Zero,
            ffi::kHighsBasisStatusNonbasic => Self::Nonbasic,
            _ => return None,
        })
    }
}

/// A simplex basis: one status per column and per row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basis {
    pub cols: Vec<BasisStatus>,
    pub rows: Vec<BasisStatus>,
}

/// A linear programme built column by column, then row by row, and kept column-wise, the
/// layout HiGHS takes (`kHighsMatrixFormatColwise`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Problem {
    col_cost: Vec<f64>,
    col_lower: Vec<f64>,
    col_upper: Vec<f64>,
    row_lower: Vec<f64>,
    row_upper: Vec<f64>,
    /// Per column: the rows it appears in and its coefficients there.
    columns: Vec<(Vec<HighsInt>, Vec<f64>)>,
}

/// The finite ends of a range of bounds, infinite where open (`a..` has no upper bound);
/// exclusive ends are taken as inclusive, as an LP cannot express them.
pub fn bounds_of<B: RangeBounds<f64>>(bounds: &B) -> (f64, f64) {
    let lower = match bounds.start_bound() {
        Bound::Included(x) | Bound::Excluded(x) => *x,
        Bound::Unbounded => f64::NEG_INFINITY,
    };
    let upper = match bounds.end_bound() {
        Bound::Included(x) | Bound::Excluded(x) => *x,
        Bound::Unbounded => f64::INFINITY,
    };
    (lower, upper)
}

impl Problem {
    /// Add a column with its objective coefficient and bounds; it appears in no row yet.
    pub fn add_column<B: RangeBounds<f64>>(&mut self, cost: f64, bounds: B) -> Col {
        let (lower, upper) = bounds_of(&bounds);
        self.col_cost.push(cost);
        self.col_lower.push(lower);
        self.col_upper.push(upper);
        self.columns.push((Vec::new(), Vec::new()));
        Col(self.columns.len() - 1)
    }

    /// Add a row `lower <= sum(coefficient * column) <= upper`. A column listed twice has its
    /// coefficients entered twice, which HiGHS refuses at [`Problem::optimise`].
    pub fn add_row<B: RangeBounds<f64>>(&mut self, bounds: B, coefficients: &[(Col, f64)]) {
        let (lower, upper) = bounds_of(&bounds);
        // Beyond HiGHS' integers the row cannot be passed; optimise() reports it.
        let row = HighsInt::try_from(self.row_lower.len()).unwrap_or(HighsInt::MAX);
        for &(col, value) in coefficients {
            let (rows, values) = &mut self.columns[col.0];
            rows.push(row);
            values.push(value);
        }
        self.row_lower.push(lower);
        self.row_upper.push(upper);
    }

    pub fn num_cols(&self) -> usize {
        self.columns.len()
    }

    pub fn num_rows(&self) -> usize {
        self.row_lower.len()
    }

    /// Hand the problem to a new HiGHS instance, silent (no console or file output), to be
    /// optimised in `sense`.
    pub fn optimise(self, sense: Sense) -> Result<Model, Error> {
        let count = |what: &'static str, n: usize| {
            HighsInt::try_from(n).map_err(|_| Error::TooLarge { what, count: n })
        };
        let num_col = count("columns", self.num_cols())?;
        let num_row = count("rows", self.num_rows())?;
        let nonzeros: usize = self.columns.iter().map(|(r, _)| r.len()).sum();
        let num_nz = count("nonzeros", nonzeros)?;
        let mut start = Vec::with_capacity(self.columns.len() + 1);
        let mut index = Vec::with_capacity(nonzeros);
        let mut value = Vec::with_capacity(nonzeros);
        start.push(0);
        for (rows, values) in &self.columns {
            index.extend_from_slice(rows);
            value.extend_from_slice(values);
            // Fits: at most `nonzeros`, checked above.
            start.push(index.len() as HighsInt);
        }
        let mut model = Model::new(self.num_cols(), self.num_rows());
        model.set_option("output_flag", false)?;
        model.set_option("log_to_console", false)?;
        // SAFETY: the instance is live; every array has the length passLp reads for the
        // counts given (costs and bounds `num_col`, row bounds `num_row`, starts `num_col`,
        // indices and values `num_nz`), and HiGHS copies them before returning.
        let status = unsafe {
            ffi::Highs_passLp(
                model.ptr(),
                num_col,
                num_row,
                num_nz,
                ffi::kHighsMatrixFormatColwise,
                ffi::kHighsObjSenseMinimize,
                0.0,
                self.col_cost.as_ptr(),
                self.col_lower.as_ptr(),
                self.col_upper.as_ptr(),
                self.row_lower.as_ptr(),
                self.row_upper.as_ptr(),
                start.as_ptr(),
                index.as_ptr(),
                value.as_ptr(),
            )
        };
        check(status, "Highs_passLp")?;
        let sense = match sense {
            Sense::Minimise => ffi::kHighsObjSenseMinimize,
            Sense::Maximise => ffi::kHighsObjSenseMaximize,
        };
        // SAFETY: the instance is live.
        check(
            unsafe { ffi::Highs_changeObjectiveSense(model.ptr(), sense) },
            "Highs_changeObjectiveSense",
        )?;
        Ok(model)
    }
}

/// `kHighsStatusError` as an error; `Ok` and `Warning` (for example a time limit reached,
/// which the model status then reports) as success.
fn check(status: HighsInt, call: &'static str) -> Result<(), Error> {
    if status == ffi::kHighsStatusError {
        Err(Error::Rejected { call })
    } else {
        Ok(())
    }
}

/// A value HiGHS takes for an option: `bool`, `i32`, `f64` or `&str`.
pub trait OptionValue: sealed::Sealed {
    #[doc(hidden)]
    /// # Safety
    /// `highs` must be a live HiGHS instance and `name` a NUL-terminated string.
    unsafe fn apply(self, highs: *mut c_void, name: *const c_char) -> HighsInt;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for bool {}
    impl Sealed for i32 {}
    impl Sealed for f64 {}
    impl Sealed for &str {}
}

impl OptionValue for bool {
    unsafe fn apply(self, highs: *mut c_void, name: *const c_char) -> HighsInt {
        ffi::Highs_setBoolOptionValue(highs, name, HighsInt::from(self))
    }
}

impl OptionValue for i32 {
    unsafe fn apply(self, highs: *mut c_void, name: *const c_char) -> HighsInt {
        ffi::Highs_setIntOptionValue(highs, name, self)
    }
}

impl OptionValue for f64 {
    unsafe fn apply(self, highs: *mut c_void, name: *const c_char) -> HighsInt {
        ffi::Highs_setDoubleOptionValue(highs, name, self)
    }
}

impl OptionValue for &str {
    unsafe fn apply(self, highs: *mut c_void, name: *const c_char) -> HighsInt {
        match CString::new(self) {
            Ok(value) => ffi::Highs_setStringOptionValue(highs, name, value.as_ptr()),
            Err(_) => ffi::kHighsStatusError,
        }
    }
}

/// A HiGHS instance holding a problem, not solved yet.
#[derive(Debug)]
pub struct Model {
    highs: NonNull<c_void>,
    cols: usize,
    rows: usize,
}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: the instance was made by Highs_create and is destroyed once, here.
        unsafe { ffi::Highs_destroy(self.highs.as_ptr()) }
    }
}

impl Model {
    fn new(cols: usize, rows: usize) -> Self {
        // SAFETY: Highs_create takes nothing and returns a new instance (null only when
        // allocation fails, which aborts below as any failed allocation does).
        let raw = unsafe { ffi::Highs_create() };
        let highs = NonNull::new(raw).expect("Highs_create could not allocate an instance");
        Model { highs, cols, rows }
    }

    fn ptr(&self) -> *mut c_void {
        self.highs.as_ptr()
    }

    pub fn num_cols(&self) -> usize {
        self.cols
    }

    pub fn num_rows(&self) -> usize {
        self.rows
    }

    /// Set one of HiGHS' options (<https://ergo-code.github.io/HiGHS/dev/options/definitions/>).
    pub fn set_option<V: OptionValue>(&mut self, name: &str, value: V) -> Result<(), Error> {
        let refused = || Error::Option {
            name: name.to_string(),
        };
        let c_name = CString::new(name).map_err(|_| refused())?;
        // SAFETY: the instance is live and the name is NUL-terminated.
        let status = unsafe { value.apply(self.ptr(), c_name.as_ptr()) };
        check(status, "Highs_set*OptionValue").map_err(|_| refused())
    }

    /// Start the simplex from this basis. HiGHS refuses a basis that is not one (wrong number
    /// of basic statuses): the solve then starts cold, which is returned as an error here for
    /// the caller to ignore or report.
    pub fn set_basis(&mut self, cols: &[BasisStatus], rows: &[BasisStatus]) -> Result<(), Error> {
        for (what, expected, found) in [
            ("columns", self.cols, cols.len()),
            ("rows", self.rows, rows.len()),
        ] {
            if expected != found {
                return Err(Error::BasisLength {
                    what,
                    expected,
                    found,
                });
            }
        }
        // SAFETY: the instance is live and holds exactly `cols.len()` columns and `rows.len()`
        // rows (checked above); `BasisStatus` is `repr(i32)`, so the slices are `HighsInt`
        // arrays of those lengths, which HiGHS copies.
        let status = unsafe {
            ffi::Highs_setBasis(
                self.ptr(),
                cols.as_ptr().cast::<HighsInt>(),
                rows.as_ptr().cast::<HighsInt>(),
            )
        };
        check(status, "Highs_setBasis")
    }

    /// Solve. An error here means HiGHS could not run at all; a solve that ran reports how it
    /// ended in [`Solved::status`].
    pub fn solve(self) -> Result<Solved, Error> {
        // SAFETY: the instance is live.
        check(unsafe { ffi::Highs_run(self.ptr()) }, "Highs_run")?;
        Ok(Solved { model: self })
    }
}

/// A model after its solve.
#[derive(Debug)]
pub struct Solved {
    model: Model,
}

impl Solved {
    pub fn status(&self) -> ModelStatus {
        // SAFETY: the instance is live.
        ModelStatus::from_raw(unsafe { ffi::Highs_getModelStatus(self.model.ptr()) })
    }

    /// The objective value of the solution (meaningful where the status is optimal).
    pub fn objective_value(&self) -> f64 {
        // SAFETY: the instance is live.
        unsafe { ffi::Highs_getObjectiveValue(self.model.ptr()) }
    }

    /// The value of every column, indexed by [`Col::index`].
    pub fn column_values(&self) -> Vec<f64> {
        let mut col_value = vec![0.0; self.model.cols];
        let mut col_dual = vec![0.0; self.model.cols];
        let mut row_value = vec![0.0; self.model.rows];
        let mut row_dual = vec![0.0; self.model.rows];
        // SAFETY: the instance is live and each array has one entry per column or row of the
        // model, as many as HiGHS writes.
        unsafe {
            ffi::Highs_getSolution(
                self.model.ptr(),
                col_value.as_mut_ptr(),
                col_dual.as_mut_ptr(),
                row_value.as_mut_ptr(),
                row_dual.as_mut_ptr(),
            );
        }
        col_value
    }

    /// Simplex iterations of the solve (0 where the interior point method solved it without
    /// crossover iterations).
    pub fn simplex_iterations(&self) -> i64 {
        self.int_info(c"simplex_iteration_count").unwrap_or(0)
    }

    fn int_info(&self, name: &CStr) -> Option<i64> {
        let mut value: HighsInt = 0;
        // SAFETY: the instance is live, the name NUL-terminated, the value one HighsInt.
        let status =
            unsafe { ffi::Highs_getIntInfoValue(self.model.ptr(), name.as_ptr(), &mut value) };
        (status != ffi::kHighsStatusError).then_some(i64::from(value))
    }

    /// The final simplex basis, or `None` where HiGHS has none (for example an interior point
    /// solve without crossover).
    pub fn basis(&self) -> Option<Basis> {
        let mut cols = vec![0 as HighsInt; self.model.cols];
        let mut rows = vec![0 as HighsInt; self.model.rows];
        // SAFETY: the instance is live and each array has one entry per column or row, as many
        // statuses as HiGHS writes.
        let status =
            unsafe { ffi::Highs_getBasis(self.model.ptr(), cols.as_mut_ptr(), rows.as_mut_ptr()) };
        if status != ffi::kHighsStatusOk {
            return None;
        }
        let typed = |raw: Vec<HighsInt>| -> Option<Vec<BasisStatus>> {
            raw.into_iter().map(BasisStatus::from_raw).collect()
        };
        Some(Basis {
            cols: typed(cols)?,
            rows: typed(rows)?,
        })
    }
}
