from moodtagger.cli import main

raise SystemExit(main())
