// llama-gradients: loss and exact gradients of a Hugging Face LLaMA on one batch, for comparison
// with PyTorch (see scripts/compare_llama_gradients.py).

import ArgumentParser
import Foundation
import NN
import Tensor

struct LlamaGradients: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llama-gradients",
        abstract: "One forward and backward of a Hugging Face LLaMA with exact gradients, written as safetensors.",
        discussion: """
        Loads a LLaMA from safetensors with Hugging Face names (a file, or a directory holding model.safetensors or a sharded index) and its config.json (default: config.json in the model directory), reads input_ids (I64 or I32, shape [B, S]), runs one forward and backward with exact gradients, and writes 'loss' (mean next-token cross-entropy over B*(S-1) targets) and 'grad.<name>' for every parameter.

        Weights with NaN or infinite values are refused, and so is a non-finite loss or gradient (nothing is written). The run is refused up front when its estimated memory exceeds the machine's (or SKETCHGRAD_MEMORY_LIMIT, e.g. 8G).

        Examples:
          llama-gradients --model runs/default/checkpoint --input ids.safetensors --output grads.safetensors
          llama-gradients --model model.safetensors --config config.json --input ids.safetensors --output grads.safetensors
        """)

    @Option(help: "A model directory (model.safetensors or model.safetensors.index.json, and config.json) or a .safetensors file. Example: --model runs/default/checkpoint")
    var model: String

    @Option(help: "The model's Hugging Face config.json (default: config.json in --model when it is a directory). Example: --config config.json")
    var config: String?

    @Option(help: "Safetensors file with 'input_ids', I64 or I32, shape [batch, seq], seq ≥ 2. Example: --input ids.safetensors")
    var input: String

    @Option(help: "Where to write 'loss' and 'grad.<name>' (safetensors, written atomically). Example: --output grads.safetensors")
    var output: String

    func validate() throws {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: model, isDirectory: &isDirectory)
        if config == nil && !(exists && isDirectory.boolValue) {
            throw ValidationError("missing --config (needed when --model is a file)")
        }
    }

    func run() throws {
        Memory.allocationFailureHandler = { failure in
            FileHandle.standardError.write(Data("llama-gradients: error: \(failure); try a shorter input\n".utf8))
            Foundation.exit(1)
        }
        let modelURL = URL(fileURLWithPath: model)
        let configURL = config.map { URL(fileURLWithPath: $0) } ?? modelURL.appendingPathComponent("config.json")
        let outputURL = URL(fileURLWithPath: output)
        do {
            let dump = try runLlamaGradients(model: modelURL, config: configURL, input: URL(fileURLWithPath: input), output: outputURL)
            print("loss \(dump.loss) over \(dump.batch * (dump.seq - 1)) targets (batch \(dump.batch), seq \(dump.seq)); "
                  + "wrote \(dump.gradients.count) gradients to \(outputURL.path)")
        } catch {
            FileHandle.standardError.write(Data("llama-gradients: error: \("\(error)".oneLine)\n".utf8))
            throw ExitCode(1)
        }
    }
}
