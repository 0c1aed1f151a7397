// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Sketchgrad",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Sketchgrad", targets: ["Tensor", "Autograd", "Estimators", "NN"]),
        .executable(name: "sketchgrad-bench", targets: ["sketchgrad-bench"]),
        .executable(name: "llama-pretrain", targets: ["llama-pretrain"]),
        .executable(name: "llama-gradients", targets: ["llama-gradients"]),
    ],
    // `MPI` (off by default) builds llama-pretrain with data parallelism over Open MPI
    // (`swift build --traits MPI`); the default build needs no MPI headers or libraries.
    traits: [.trait(name: "MPI", description: "Data-parallel training over Open MPI (libopenmpi-dev)")],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]),
        .systemLibrary(
            name: "CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"])]),
        // LAPACK's error handler, replaced so that a routine's report reaches the caller.
        .target(name: "CLAPACKErrors"),
        .target(name: "Tensor", dependencies: ["COpenBLAS", "CLAPACKErrors"]),
        .target(name: "Autograd", dependencies: ["Tensor"]),
        .target(name: "Estimators", dependencies: ["Tensor", "Autograd"]),
        .target(name: "NN", dependencies: ["Tensor", "Autograd", "Estimators"]),
        // The MPI communicator; its code is under `#if MPI`, so without the trait it is empty.
        .target(name: "SketchgradMPI", dependencies: ["Estimators", .target(name: "CMPI", condition: .when(traits: ["MPI"]))]),

        .executableTarget(
            name: "sketchgrad-bench",
            dependencies: ["Tensor", "Autograd", "Estimators", "NN", "COpenBLAS",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/sketchgrad-bench"),
        .executableTarget(
            name: "llama-pretrain",
            dependencies: ["Tensor", "Autograd", "Estimators", "NN",
                           .target(name: "SketchgradMPI", condition: .when(traits: ["MPI"])),
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/llama-pretrain"),
        .executableTarget(
            name: "llama-gradients",
            dependencies: ["Tensor", "Autograd", "Estimators", "NN",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/llama-gradients"),

        .target(name: "TestSupport", dependencies: ["Tensor", "Autograd"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport", "COpenBLAS"]),
        .testTarget(name: "AutogradTests", dependencies: ["Tensor", "Autograd", "TestSupport"]),
        .testTarget(name: "EstimatorsTests", dependencies: ["Tensor", "Autograd", "Estimators", "TestSupport"]),
        .testTarget(name: "NNTests", dependencies: ["Tensor", "Autograd", "Estimators", "NN", "TestSupport"]),
        // Runs the executables as a user would (exit codes, one-line errors); depending on them builds them.
        .testTarget(name: "ExamplesTests", dependencies: ["llama-pretrain", "llama-gradients", "sketchgrad-bench", "TestSupport"]),
        // Seeded, time-bounded fuzzing of every parser and executable (a few seconds in CI; see FuzzSupport.swift).
        .testTarget(name: "FuzzTests", dependencies: ["Tensor", "Autograd", "Estimators", "NN", "TestSupport",
                                                      "llama-pretrain", "llama-gradients", "sketchgrad-bench"]),
    ],
    swiftLanguageModes: [.v5]
)
