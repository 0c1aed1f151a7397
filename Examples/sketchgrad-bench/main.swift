SketchgradBench.main()
