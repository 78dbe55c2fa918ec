//! Compiles the vendored HiGHS sources (HiGHS/, version in HiGHS/Version.txt) into two static
//! libraries with the `cc` crate and the C/C++ compiler every Rust install on Linux already has:
//! no cmake, no bindgen, no libclang, no pkg-config.
//!
//! The file set and the flags are those of HiGHS' own CMake build as `highs-sys` 1.15.0 ran it
//! (`cmake/sources.cmake`: the library, IPX, basiclu, cuPDLP on the CPU, HiPDLP; release flags
//! `-O3 -DNDEBUG -std=c++11`, `-mpopcnt` on x86), so the solver computes the same iterates.
//! One difference: the optional "extras" library (HiPO and its third-party deps) is linked in
//! statically with no feature enabled, instead of being looked for with `dlopen` at run time,
//! so the solver cannot change with what happens to lie on the library path.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

/// The C++ sources HiGHS' CMake build compiles into `libhighs` (relative to `HiGHS/highs`).
const CXX_SOURCES: &[&str] = &[
    "HighsExternalApi.cpp",
    "HighsExternalDeps.cpp",
    "interfaces/highs_c_api.cpp",
    "io/Filereader.cpp",
    "io/FilereaderLp.cpp",
    "io/FilereaderMps.cpp",
    "io/HMPSIO.cpp",
    "io/HMpsFF.cpp",
    "io/HighsIO.cpp",
    "io/LoadOptions.cpp",
    "io/filereaderlp/reader.cpp",
    "ipm/IpxWrapper.cpp",
    "ipm/hipo/auxiliary/Auxiliary.cpp",
    "ipm/hipo/auxiliary/KrylovMethods.cpp",
    "ipm/hipo/auxiliary/Logger.cpp",
    "ipm/hipo/auxiliary/VectorOperations.cpp",
    "ipm/hipo/factorhighs/Analyse.cpp",
    "ipm/hipo/factorhighs/CallAndTimeBlas.cpp",
    "ipm/hipo/factorhighs/CliqueStack.cpp",
    "ipm/hipo/factorhighs/DataCollector.cpp",
    "ipm/hipo/factorhighs/DenseFactHybrid.cpp",
    "ipm/hipo/factorhighs/DenseFactKernel.cpp",
    "ipm/hipo/factorhighs/DgemmParallel.cpp",
    "ipm/hipo/factorhighs/FactorHiGHS.cpp",
    "ipm/hipo/factorhighs/Factorise.cpp",
    "ipm/hipo/factorhighs/FormatHandler.cpp",
    "ipm/hipo/factorhighs/HybridHybridFormatHandler.cpp",
    "ipm/hipo/factorhighs/HybridSolveHandler.cpp",
    "ipm/hipo/factorhighs/KrylovMethodsIpm.cpp",
    "ipm/hipo/factorhighs/Numeric.cpp",
    "ipm/hipo/factorhighs/SolveHandler.cpp",
    "ipm/hipo/factorhighs/Swaps.cpp",
    "ipm/hipo/factorhighs/Symbolic.cpp",
    "ipm/hipo/ipm/Control.cpp",
    "ipm/hipo/ipm/FactorHiGHSSolver.cpp",
    "ipm/hipo/ipm/IpmData.cpp",
    "ipm/hipo/ipm/Iterate.cpp",
    "ipm/hipo/ipm/KktMatrix.cpp",
    "ipm/hipo/ipm/Model.cpp",
    "ipm/hipo/ipm/PreProcess.cpp",
    "ipm/hipo/ipm/Refine.cpp",
    "ipm/hipo/ipm/Solver.cpp",
    "ipm/ipx/basiclu_kernel.cc",
    "ipm/ipx/basiclu_wrapper.cc",
    "ipm/ipx/basis.cc",
    "ipm/ipx/conjugate_residuals.cc",
    "ipm/ipx/control.cc",
    "ipm/ipx/crossover.cc",
    "ipm/ipx/diagonal_precond.cc",
    "ipm/ipx/forrest_tomlin.cc",
    "ipm/ipx/guess_basis.cc",
    "ipm/ipx/indexed_vector.cc",
    "ipm/ipx/info.cc",
    "ipm/ipx/ipm.cc",
    "ipm/ipx/ipx_c.cc",
    "ipm/ipx/iterate.cc",
    "ipm/ipx/kkt_solver.cc",
    "ipm/ipx/kkt_solver_basis.cc",
    "ipm/ipx/kkt_solver_diag.cc",
    "ipm/ipx/linear_operator.cc",
    "ipm/ipx/lp_solver.cc",
    "ipm/ipx/lu_factorization.cc",
    "ipm/ipx/lu_update.cc",
    "ipm/ipx/maxvolume.cc",
    "ipm/ipx/model.cc",
    "ipm/ipx/normal_matrix.cc",
    "ipm/ipx/sparse_matrix.cc",
    "ipm/ipx/sparse_utils.cc",
    "ipm/ipx/splitted_normal_matrix.cc",
    "ipm/ipx/starting_basis.cc",
    "ipm/ipx/symbolic_invert.cc",
    "ipm/ipx/timer.cc",
    "ipm/ipx/utils.cc",
    "lp_data/Highs.cpp",
    "lp_data/HighsCallback.cpp",
    "lp_data/HighsDebug.cpp",
    "lp_data/HighsDeprecated.cpp",
    "lp_data/HighsIis.cpp",
    "lp_data/HighsInfo.cpp",
    "lp_data/HighsInfoDebug.cpp",
    "lp_data/HighsInterface.cpp",
    "lp_data/HighsLp.cpp",
    "lp_data/HighsLpUtils.cpp",
    "lp_data/HighsModelUtils.cpp",
    "lp_data/HighsOptions.cpp",
    "lp_data/HighsRanging.cpp",
    "lp_data/HighsRunData.cpp",
    "lp_data/HighsSolution.cpp",
    "lp_data/HighsSolutionDebug.cpp",
    "lp_data/HighsSolve.cpp",
    "lp_data/HighsStatus.cpp",
    "mip/HighsCliqueTable.cpp",
    "mip/HighsConflictPool.cpp",
    "mip/HighsCutGeneration.cpp",
    "mip/HighsCutPool.cpp",
    "mip/HighsDebugSol.cpp",
    "mip/HighsDomain.cpp",
    "mip/HighsDynamicRowMatrix.cpp",
    "mip/HighsFeasibilityJump.cpp",
    "mip/HighsGFkSolve.cpp",
    "mip/HighsImplications.cpp",
    "mip/HighsLpAggregator.cpp",
    "mip/HighsLpRelaxation.cpp",
    "mip/HighsMipSolver.cpp",
    "mip/HighsMipSolverData.cpp",
    "mip/HighsMipWorker.cpp",
    "mip/HighsModkSeparator.cpp",
    "mip/HighsNodeQueue.cpp",
    "mip/HighsObjectiveFunction.cpp",
    "mip/HighsPathSeparator.cpp",
    "mip/HighsPrimalHeuristics.cpp",
    "mip/HighsPseudocost.cpp",
    "mip/HighsRedcostFixing.cpp",
    "mip/HighsSearch.cpp",
    "mip/HighsSeparation.cpp",
    "mip/HighsSeparator.cpp",
    "mip/HighsTableauSeparator.cpp",
    "mip/HighsTransformedLp.cpp",
    "model/HighsHessian.cpp",
    "model/HighsHessianUtils.cpp",
    "model/HighsModel.cpp",
    "parallel/HighsTaskExecutor.cpp",
    "pdlp/CupdlpWrapper.cpp",
    "pdlp/HiPdlpWrapper.cpp",
    "pdlp/hipdlp/linalg.cc",
    "pdlp/hipdlp/logger.cc",
    "pdlp/hipdlp/pdhg.cc",
    "pdlp/hipdlp/restart.cc",
    "pdlp/hipdlp/scaling.cc",
    "presolve/HPresolve.cpp",
    "presolve/HPresolveAnalysis.cpp",
    "presolve/HPresolveTest.cpp",
    "presolve/HighsPostsolveStack.cpp",
    "presolve/HighsSymmetry.cpp",
    "presolve/ICrash.cpp",
    "presolve/ICrashUtil.cpp",
    "presolve/ICrashX.cpp",
    "presolve/PresolveComponent.cpp",
    "qpsolver/a_asm.cpp",
    "qpsolver/a_quass.cpp",
    "qpsolver/basis.cpp",
    "qpsolver/perturbation.cpp",
    "qpsolver/quass.cpp",
    "qpsolver/ratiotest.cpp",
    "qpsolver/scaling.cpp",
    "simplex/HEkk.cpp",
    "simplex/HEkkControl.cpp",
    "simplex/HEkkDebug.cpp",
    "simplex/HEkkDual.cpp",
    "simplex/HEkkDualMulti.cpp",
    "simplex/HEkkDualRHS.cpp",
    "simplex/HEkkDualRow.cpp",
    "simplex/HEkkInterface.cpp",
    "simplex/HEkkPrimal.cpp",
    "simplex/HSimplex.cpp",
    "simplex/HSimplexDebug.cpp",
    "simplex/HSimplexNla.cpp",
    "simplex/HSimplexNlaDebug.cpp",
    "simplex/HSimplexNlaFreeze.cpp",
    "simplex/HSimplexNlaProductForm.cpp",
    "simplex/HSimplexReport.cpp",
    "simplex/HighsSimplexAnalysis.cpp",
    "test_kkt/DevKkt.cpp",
    "test_kkt/KktCh2.cpp",
    "util/HFactor.cpp",
    "util/HFactorDebug.cpp",
    "util/HFactorExtend.cpp",
    "util/HFactorRefactor.cpp",
    "util/HFactorUtils.cpp",
    "util/HSet.cpp",
    "util/HVectorBase.cpp",
    "util/HighsDynamicLibrary.cpp",
    "util/HighsHash.cpp",
    "util/HighsLinearSumBounds.cpp",
    "util/HighsMatrixPic.cpp",
    "util/HighsMatrixUtils.cpp",
    "util/HighsSort.cpp",
    "util/HighsSparseMatrix.cpp",
    "util/HighsUtils.cpp",
    "util/stringutil.cpp",
];

/// The C sources of the same build (basiclu for IPX, cuPDLP's CPU code), compiled as C.
const C_SOURCES: &[&str] = &[
    "ipm/basiclu/basiclu_factorize.c",
    "ipm/basiclu/basiclu_get_factors.c",
    "ipm/basiclu/basiclu_initialize.c",
    "ipm/basiclu/basiclu_object.c",
    "ipm/basiclu/basiclu_solve_dense.c",
    "ipm/basiclu/basiclu_solve_for_update.c",
    "ipm/basiclu/basiclu_solve_sparse.c",
    "ipm/basiclu/basiclu_update.c",
    "ipm/basiclu/lu_build_factors.c",
    "ipm/basiclu/lu_condest.c",
    "ipm/basiclu/lu_dfs.c",
    "ipm/basiclu/lu_factorize_bump.c",
    "ipm/basiclu/lu_file.c",
    "ipm/basiclu/lu_garbage_perm.c",
    "ipm/basiclu/lu_initialize.c",
    "ipm/basiclu/lu_internal.c",
    "ipm/basiclu/lu_markowitz.c",
    "ipm/basiclu/lu_matrix_norm.c",
    "ipm/basiclu/lu_pivot.c",
    "ipm/basiclu/lu_residual_test.c",
    "ipm/basiclu/lu_setup_bump.c",
    "ipm/basiclu/lu_singletons.c",
    "ipm/basiclu/lu_solve_dense.c",
    "ipm/basiclu/lu_solve_for_update.c",
    "ipm/basiclu/lu_solve_sparse.c",
    "ipm/basiclu/lu_solve_symbolic.c",
    "ipm/basiclu/lu_solve_triangular.c",
    "ipm/basiclu/lu_update.c",
    "pdlp/cupdlp/cupdlp_cs.c",
    "pdlp/cupdlp/cupdlp_linalg.c",
    "pdlp/cupdlp/cupdlp_proj.c",
    "pdlp/cupdlp/cupdlp_restart.c",
    "pdlp/cupdlp/cupdlp_scaling.c",
    "pdlp/cupdlp/cupdlp_solver.c",
    "pdlp/cupdlp/cupdlp_step.c",
    "pdlp/cupdlp/cupdlp_utils.c",
];

/// The extras library's two files, built statically with no optional feature (relative to
/// `HiGHS/extern`).
const EXTRAS_SOURCES: &[&str] = &["HighsExtrasApi.cpp", "HighsExtrasExternalDeps.cpp"];

/// Include folders, as `cmake/sources.cmake` lists them (relative to `HiGHS`).
const INCLUDE_DIRS: &[&str] = &[
    "extern",
    "highs",
    "highs/interfaces",
    "highs/io",
    "highs/io/filereader",
    "highs/ipm",
    "highs/ipm/ipx",
    "highs/ipm/basiclu",
    "highs/lp_data",
    "highs/mip",
    "highs/model",
    "highs/parallel",
    "highs/pdlp",
    "highs/pdlp/cupdlp",
    "highs/pdlp/hipdlp",
    "highs/presolve",
    "highs/qpsolver",
    "highs/simplex",
    "highs/test_kkt",
    "highs/util",
];

fn main() {
    let manifest =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.join("HiGHS");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let target_env = env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let msvc = target_env == "msvc";

    let (major, minor, patch) = version(&root.join("Version.txt"));
    let config = out.join("config");
    fs::create_dir_all(&config).expect("create OUT_DIR/config");
    write_if_changed(
        &config.join("HConfig.h"),
        &hconfig(&arch, msvc, major, minor, patch),
    );

    let base = |cpp: bool| {
        let mut b = cc::Build::new();
        b.cpp(cpp)
            .include(&config)
            .includes(INCLUDE_DIRS.iter().map(|d| root.join(d)))
            .define("NDEBUG", None)
            // HiGHS is always built optimised, as `highs-sys` builds it ("Release"): a debug
            // build of the solver is 10x slower and computes nothing different.
            .opt_level(3)
            .debug(false)
            .warnings(false)
            .extra_warnings(false)
            .cargo_warnings(false);
        if !msvc {
            b.flag("-w");
        }
        b
    };

    let mut cxx = base(true);
    if msvc {
        cxx.flag("/std:c++14").flag("/bigobj");
    } else {
        cxx.std("c++11");
        match arch.as_str() {
            "x86" | "x86_64" => {
                cxx.flag("-mpopcnt");
            }
            "powerpc64" => {
                cxx.flag("-mpopcntd");
            }
            _ => {}
        }
    }
    cxx.define(
        "HIGHS_EXTRAS_VERSION",
        Some(format!("\"{major}.{minor}.{patch}\"").as_str()),
    );
    cxx.files(CXX_SOURCES.iter().map(|f| root.join("highs").join(f)));
    cxx.files(EXTRAS_SOURCES.iter().map(|f| root.join("extern").join(f)));
    cxx.compile("highs");

    let mut c = base(false);
    c.files(C_SOURCES.iter().map(|f| root.join("highs").join(f)));
    c.compile("highs_c");

    if target_os == "linux" || target_os == "android" {
        println!("cargo:rustc-link-lib=pthread");
        println!("cargo:rustc-link-lib=dl");
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=HiGHS");
    println!("cargo:include={}", root.join("highs").display());
}

/// Major, minor and patch from HiGHS' `Version.txt` (`HIGHS_MAJOR=1` lines).
fn version(path: &Path) -> (u32, u32, u32) {
    let text = fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: cannot read HiGHS' version file: {e}", path.display()));
    let field = |name: &str| -> u32 {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{}: no `{name}=<number>` line", path.display()))
    };
    (
        field("HIGHS_MAJOR"),
        field("HIGHS_MINOR"),
        field("HIGHS_PATCH"),
    )
}

/// `HConfig.h` as HiGHS' CMake writes it from `highs/HConfig.h.in` for this build: the compiler
/// checks CMake runs are answered by the target (`_mm_pause` on x86, `__builtin_clz` on GCC and
/// Clang, `_BitScanReverse` on MSVC). `HIGHSINT64` stays unset: `HighsInt` is a 32-bit `int`, as
/// the declarations in `src/ffi.rs` assume (a test checks it).
fn hconfig(arch: &str, msvc: bool, major: u32, minor: u32, patch: u32) -> String {
    let def = |on: bool, name: &str| {
        if on {
            format!("#define {name}\n")
        } else {
            format!("/* #undef {name} */\n")
        }
    };
    let x86 = matches!(arch, "x86" | "x86_64");
    let mut s =
        String::from("/* Written by suandian-highs' build.rs from highs/HConfig.h.in. */\n");
    s += "#ifndef HCONFIG_H_\n#define HCONFIG_H_\n\n";
    s += &def(true, "FAST_BUILD");
    s += &def(false, "ZLIB_FOUND");
    s += &def(true, "CUPDLP_CPU");
    s += &def(false, "CUPDLP_GPU");
    s += &def(false, "HIPO");
    s += &def(false, "HIGHS_SHARED_EXTRAS_LIBRARY");
    s += "#define CMAKE_BUILD_TYPE \"Release\"\n";
    s += &def(false, "HIGHSINT64");
    s += &def(false, "HIGHS_NO_DEFAULT_THREADS");
    s += &def(x86, "HIGHS_HAVE_MM_PAUSE");
    s += &def(!msvc, "HIGHS_HAVE_BUILTIN_CLZ");
    s += &def(msvc, "HIGHS_HAVE_BITSCAN_REVERSE");
    s += "\n#define HIGHS_GITHASH \"n/a\"\n";
    s += &format!("#define HIGHS_VERSION_MAJOR {major}\n");
    s += &format!("#define HIGHS_VERSION_MINOR {minor}\n");
    s += &format!("#define HIGHS_VERSION_PATCH {patch}\n");
    s += "\n#endif /* HCONFIG_H_ */\n";
    s
}

/// Write only when the content differs, so that an unchanged header does not look new.
fn write_if_changed(path: &Path, content: &str) {
    if fs::read_to_string(path).ok().as_deref() != Some(content) {
        fs::write(path, content).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}
