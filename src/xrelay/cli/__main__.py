from xrelay.cli import main

raise SystemExit(main())
