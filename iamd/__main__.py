from iamd.cli import main

main()
