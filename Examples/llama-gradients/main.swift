LlamaGradients.main()
