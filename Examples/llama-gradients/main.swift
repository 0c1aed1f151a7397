// llama-gradients: loss and exact gradients of a Hugging Face LLaMA on one batch, for comparison
// with PyTorch (see scripts/compare_llama_gradients.py).
//
// Arguments are parsed by hand: this target does not depend on ArgumentParser.

import Foundation
import NN

let usage = """
    usage: llama-gradients --model DIR_OR_FILE [--config config.json] --input ids.safetensors --output grads.safetensors

    Loads a LLaMA from safetensors with Hugging Face names (a file, or a directory holding
    model.safetensors or a sharded index) and its config.json (default: config.json in the model
    directory), reads input_ids (I64 or I32, shape [B, S]), runs one forward and backward with exact
    gradients, and writes 'loss' (mean next-token cross-entropy over B*(S-1) targets) and
    'grad.<name>' for every parameter.
    """

func fail(_ message: String, code: Int32) -> Never {
    FileHandle.standardError.write(Data("llama-gradients: \(message)\n".utf8))
    if code == 2 { FileHandle.standardError.write(Data("\(usage.split(separator: "\n")[0])\n".utf8)) }
    exit(code)
}

/// `--name value` or `--name=value`; every flag takes a value.
func parseFlags(_ arguments: [String]) -> [String: String] {
    let known: Set = ["--model", "--config", "--input", "--output"]
    var flags: [String: String] = [:]
    var i = 0
    while i < arguments.count {
        let arg = arguments[i]
        if arg == "-h" || arg == "--help" {
            print(usage)
            exit(0)
        }
        var name = arg, value: String?
        if let eq = arg.firstIndex(of: "="), arg.hasPrefix("--") {
            name = String(arg[..<eq])
            value = String(arg[arg.index(after: eq)...])
        }
        guard known.contains(name) else { fail("unknown argument '\(arg)'", code: 2) }
        if value == nil {
            guard i + 1 < arguments.count else { fail("\(name) needs a value", code: 2) }
            i += 1
            value = arguments[i]
        }
        guard flags[name] == nil else { fail("\(name) given twice", code: 2) }
        flags[name] = value
        i += 1
    }
    return flags
}

let flags = parseFlags(Array(CommandLine.arguments.dropFirst()))
for required in ["--model", "--input", "--output"] where flags[required] == nil {
    fail("missing \(required)", code: 2)
}
let modelURL = URL(fileURLWithPath: flags["--model"]!)
var modelIsDirectory: ObjCBool = false
let modelExists = FileManager.default.fileExists(atPath: modelURL.path, isDirectory: &modelIsDirectory)
let configURL: URL
if let config = flags["--config"] {
    configURL = URL(fileURLWithPath: config)
} else if modelExists && modelIsDirectory.boolValue {
    configURL = modelURL.appendingPathComponent("config.json")
} else {
    fail("missing --config (needed when --model is a file)", code: 2)
}

do {
    let outputURL = URL(fileURLWithPath: flags["--output"]!)
    let dump = try runLlamaGradients(model: modelURL, config: configURL,
                                     input: URL(fileURLWithPath: flags["--input"]!), output: outputURL)
    print("loss \(dump.loss) over \(dump.batch * (dump.seq - 1)) targets (batch \(dump.batch), seq \(dump.seq)); "
          + "wrote \(dump.gradients.count) gradients to \(outputURL.path)")
} catch {
    fail("\(error)", code: 1)
}
