print("faregated")
