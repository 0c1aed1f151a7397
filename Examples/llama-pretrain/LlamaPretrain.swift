import ArgumentParser

struct LlamaPretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llama-pretrain",
        abstract: "Pretrain a toy LLaMA on the CPU with a gradient estimator per layer.",
        discussion: """
        With no flags it trains LLaMA-20M for a short run on the built-in corpus. Examples:
          llama-pretrain --steps 200 --data ../shared/data/shakespeare-train.txt --out runs/exact
          llama-pretrain --estimators 'default=exact; layers.*.mlp.*=gradlite(rank:64)' --out runs/gl
          llama-pretrain --resume runs/gl --steps 400
          llama-pretrain compare --runs exact 'gradlite(rank:64)' 'haar(rank:64)' --steps 100
        """,
        subcommands: [Train.self, Compare.self],
        defaultSubcommand: Train.self)
}
