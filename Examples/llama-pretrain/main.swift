LlamaPretrain.main()
